import Logging
import MoonwireCore
import TOMLKit

/// A configuration problem, naming the key (or file position) and what is wrong.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Builds a `ServerConfiguration` from defaults, then the TOML file, then `MOONWIRE_*` environment variables.
public enum ConfigurationLoader {
    /// Loads the configuration; `fileText` is the TOML file's content (`nil`: no file).
    public static func load(fileText: String?, fileName: String = "moonwire.toml", environment: [String: String]) throws(ConfigurationError)
        -> ServerConfiguration
    {
        var configuration = ServerConfiguration()
        if let fileText {
            try apply(fileText: fileText, fileName: fileName, to: &configuration)
        }
        try apply(environment: environment, to: &configuration)
        try validate(configuration)
        return configuration
    }

    /// Applies the keys of a TOML document.
    public static func apply(fileText: String, fileName: String, to configuration: inout ServerConfiguration) throws(ConfigurationError) {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: fileText)
        } catch let error as TOMLParseError {
            throw ConfigurationError(
                "\(fileName): line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw ConfigurationError("\(fileName): \(error)")
        }
        for section in table.keys {
            guard let sectionTable = table[section]?.table else {
                throw ConfigurationError("\(fileName): '\(section)' must be a table like [\(section)], with keys under it")
            }
            for name in sectionTable.keys {
                let path = "\(section).\(name)"
                if section == "plugins", let pluginTable = sectionTable[name]?.table {
                    configuration.pluginSettings[name] = jsonObject(from: pluginTable)
                    continue
                }
                guard let key = ConfigurationKey.all.first(where: { $0.section == section && $0.name == name }) else {
                    throw ConfigurationError("\(fileName): unknown key '\(path)'\(suggestion(for: path))")
                }
                let value = try check(key, tomlValue: sectionTable[name]!, origin: fileName)
                key.apply(&configuration, value)
            }
        }
    }

    /// Applies `MOONWIRE_SECTION_KEY` variables.
    public static func apply(environment: [String: String], to configuration: inout ServerConfiguration) throws(ConfigurationError) {
        for key in ConfigurationKey.all {
            guard let text = environment[key.environmentVariable] else { continue }
            let value = try check(key, text: text, origin: key.environmentVariable)
            key.apply(&configuration, value)
        }
    }

    /// Applies one `section.key=value` override given on the command line.
    public static func apply(override: String, to configuration: inout ServerConfiguration) throws(ConfigurationError) {
        guard let equals = override.firstIndex(of: "=") else {
            throw ConfigurationError("--set '\(override)': expected section.key=value")
        }
        let path = String(override[..<equals])
        let text = String(override[override.index(after: equals)...])
        guard let key = ConfigurationKey.all.first(where: { $0.path == path }) else {
            throw ConfigurationError("--set: unknown key '\(path)'\(suggestion(for: path))")
        }
        key.apply(&configuration, try check(key, text: text, origin: "--set \(path)"))
    }

    /// Checks rules that span several keys.
    public static func validate(_ configuration: ServerConfiguration) throws(ConfigurationError) {
        let hub = configuration.hub
        if hub.replayOnJoin > hub.historySize {
            throw ConfigurationError(
                "rooms.replay_on_join (\(hub.replayOnJoin)) must not exceed rooms.history_size (\(hub.historySize))")
        }
        if hub.maxEventBytes * 2 > hub.outboundQueueBytes {
            throw ConfigurationError(
                "limits.max_event_bytes (\(hub.maxEventBytes)) must be at most half of limits.outbound_queue_bytes (\(hub.outboundQueueBytes))")
        }
        for transport in configuration.transports where !["websocket", "sse", "longpoll"].contains(transport) {
            throw ConfigurationError("server.transports: unknown transport '\(transport)' (websocket, sse, longpoll)")
        }
        if !["reject", "pass"].contains(configuration.pluginPublishErrorPolicy) {
            throw ConfigurationError("plugins.on_publish_error must be \"reject\" or \"pass\", got \"\(configuration.pluginPublishErrorPolicy)\"")
        }
        if hub.pollDefaultTimeout > hub.pollMaxTimeout {
            throw ConfigurationError("long_poll.default_timeout must not exceed long_poll.max_timeout")
        }
        if let room = hub.autoJoinRoom, let error = RoomName.validate(room) {
            throw ConfigurationError("rooms.auto_join: \(error.message)")
        }
        _ = try BrokerChoice(configuration)
        for host in configuration.allowedHosts {
            if let problem = HostPolicy.problem(with: host) { throw ConfigurationError("server.allowed_hosts: '\(host)' \(problem)") }
        }
        for origin in configuration.allowedOrigins where OriginPattern(origin) == nil {
            throw ConfigurationError("server.allowed_origins: '\(origin)' is not an origin like https://example.com or http://localhost:*")
        }
    }

    private static func suggestion(for path: String) -> String {
        let close = ConfigurationKey.all.map(\.path).filter { candidate in
            candidate.split(separator: ".").last == path.split(separator: ".").last || editDistance(candidate, path) <= 2
        }
        return close.isEmpty ? "" : " (did you mean '\(close[0])'?)"
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    private static func check(_ key: ConfigurationKey, tomlValue: any TOMLValueConvertible, origin: String) throws(ConfigurationError)
        -> ConfigurationValue
    {
        func fail(_ expectation: String) -> ConfigurationError {
            ConfigurationError("\(origin): \(key.path) must be \(expectation), got \(tomlValue.debugDescription)")
        }
        switch key.kind {
        case .integer(let range):
            guard let int = tomlValue.int else { throw fail("an integer") }
            guard range.contains(int) else { throw fail("between \(range.lowerBound) and \(range.upperBound)") }
            return .integer(int)
        case .seconds(let range):
            guard let seconds = tomlValue.double ?? tomlValue.int.map(Double.init) else { throw fail("a number of seconds") }
            guard range.contains(seconds) else { throw fail("between \(range.lowerBound) and \(range.upperBound) seconds") }
            return .seconds(.milliseconds(Int64((seconds * 1000).rounded())))
        case .string(let allowEmpty):
            guard let string = tomlValue.string else { throw fail("a string") }
            if !allowEmpty && string.isEmpty { throw fail("a non-empty string") }
            return .string(string)
        case .strings:
            guard let array = tomlValue.array else { throw fail("an array of strings") }
            var strings: [String] = []
            for element in array {
                guard let string = element.string else { throw fail("an array of strings") }
                strings.append(string)
            }
            return .strings(strings)
        case .logLevel:
            guard let string = tomlValue.string, let level = Logger.Level(rawValue: string.lowercased()) else {
                throw fail("one of trace, debug, info, notice, warning, error, critical")
            }
            return .logLevel(level)
        case .boolean:
            guard let bool = tomlValue.bool else { throw fail("true or false") }
            return .boolean(bool)
        }
    }

    private static func check(_ key: ConfigurationKey, text: String, origin: String) throws(ConfigurationError) -> ConfigurationValue {
        func fail(_ expectation: String) -> ConfigurationError {
            ConfigurationError("\(origin): \(key.path) must be \(expectation), got \"\(text)\"")
        }
        switch key.kind {
        case .integer(let range):
            guard let int = Int(text.trimming(" ")) else { throw fail("an integer") }
            guard range.contains(int) else { throw fail("between \(range.lowerBound) and \(range.upperBound)") }
            return .integer(int)
        case .seconds(let range):
            guard let seconds = Double(text.trimming(" ")) else { throw fail("a number of seconds") }
            guard range.contains(seconds) else { throw fail("between \(range.lowerBound) and \(range.upperBound) seconds") }
            return .seconds(.milliseconds(Int64((seconds * 1000).rounded())))
        case .string(let allowEmpty):
            if !allowEmpty && text.isEmpty { throw fail("a non-empty string") }
            return .string(text)
        case .strings:
            return .strings(text.split(separator: ",").map { String($0).trimming(" ") }.filter { !$0.isEmpty })
        case .logLevel:
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw fail("one of trace, debug, info, notice, warning, error, critical")
            }
            return .logLevel(level)
        case .boolean:
            switch text.lowercased() {
            case "true", "1", "yes", "on": return .boolean(true)
            case "false", "0", "no", "off": return .boolean(false)
            default: throw fail("true or false")
            }
        }
    }

    /// Converts a TOML table to a JSON object (plugin settings).
    static func jsonObject(from table: TOMLTable) -> JSONObject {
        var object = JSONObject()
        for key in table.keys {
            if let value = table[key] { object[key] = jsonValue(from: value) }
        }
        return object
    }

    static func jsonValue(from value: any TOMLValueConvertible) -> JSONValue {
        if let bool = value.bool { return .bool(bool) }
        if let int = value.int { return .int(Int64(int)) }
        if let double = value.double { return .double(double) }
        if let string = value.string { return .string(string) }
        if let array = value.array { return .array(array.map { jsonValue(from: $0) }) }
        if let table = value.table { return .object(jsonObject(from: table)) }
        return .string(value.debugDescription)
    }
}

extension String {
    func trimming(_ set: Character) -> String {
        var slice = Substring(self)
        while slice.first == set { slice.removeFirst() }
        while slice.last == set { slice.removeLast() }
        return String(slice)
    }
}
