import MoonwireCore

/// The hosts a plugin may reach with `hub.http.request`, from its table: `http = { allow = { "host",
/// "host:port", "[::1]:8080" } }`. A host without a port allows every port; nothing else is reachable.
struct PluginHTTPPolicy: Sendable, Equatable {
    struct Host: Sendable, Equatable {
        /// Lowercased, without brackets for IPv6.
        var name: String
        var port: Int?
    }

    var allowed: [Host] = []

    /// Nothing is reachable.
    static let none = PluginHTTPPolicy()

    /// Reads the `http` field of a plugin table (`nil`: none); the error names what is wrong.
    static func parse(_ value: JSONValue?, plugin: String) throws(PluginError) -> PluginHTTPPolicy {
        guard let value else { return .none }
        guard case .object(let table) = value else {
            throw .invalid(plugin, "'http' must be a table like http = { allow = { \"127.0.0.1:8000\", \"auth.internal\" } }")
        }
        if let unknown = table.keys.first(where: { $0 != "allow" }) { throw .invalid(plugin, "http.\(unknown): unknown key (http has allow)") }
        var policy = PluginHTTPPolicy()
        guard let allow = table["allow"] else { return policy }
        let entries: [JSONValue]
        switch allow {
        case .array(let items): entries = items
        case .object(let object) where object.isEmpty: entries = []
        default: throw .invalid(plugin, "http.allow must be a list of hosts (\"host\" or \"host:port\")")
        }
        for entry in entries {
            guard case .string(let text) = entry, let host = Host(text) else {
                throw .invalid(plugin, "http.allow: \(JSONWriter.string(entry)) is not a host (\"host\" or \"host:port\", \"[::1]:8080\" for IPv6)")
            }
            policy.allowed.append(host)
        }
        return policy
    }

    /// Whether `host` (lowercased, IPv6 without brackets) and `port` are allowed.
    func allows(host: String, port: Int) -> Bool {
        let host = host.lowercased()
        return allowed.contains { $0.name == host && ($0.port == nil || $0.port == port) }
    }
}

extension PluginHTTPPolicy.Host {
    /// Parses "host", "host:port", "[v6]" or "[v6]:port".
    init?(_ text: String) {
        var rest = Substring(text.lowercased())
        let name: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            name = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
        } else if let colon = rest.firstIndex(of: ":") {
            name = rest[..<colon]
            rest = rest[colon...]
        } else {
            name = rest
            rest = ""
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" }) else { return nil }
        var port: Int?
        if !rest.isEmpty {
            guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()), (1...65535).contains(number) else { return nil }
            port = number
        }
        self.init(name: String(name), port: port)
    }
}
