import Foundation
import Logging
import MoonwireClient
import MoonwireCore
import MoonwirePlugins
import MoonwireServer
import ServiceLifecycle

/// A hub running in this process on a free loopback port, reached over real sockets.
struct LiveHub: Sendable {
    let port: Int
    let hub: Hub
    let serviceGroup: ServiceGroup
    /// The plugins directory of a hub started with `withLiveHub(plugins:)` (a fresh temporary directory).
    var pluginsDirectory: String? = nil
    /// The plugin host of a hub started with `withLiveHub(plugins:)`.
    var pluginHost: PluginHost? = nil

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var webSocketURL: String { "ws://127.0.0.1:\(port)/ws" }
    var http: HubHTTPClient { HubHTTPClient(baseURL: baseURL) }

    /// Opens a WebSocket and authenticates as `user`; waits for the welcome notification.
    func connect(_ user: String, extra: JSONObject = [:], headers: [(String, String)] = []) async throws -> WebSocketProbe {
        var frame: JSONObject = ["user_id": .string(user), "metadata": [:]]
        for (key, value) in extra { frame[key] = value }
        let session = try await WebSocketSession.connect(url: webSocketURL, authFrame: .object(frame), headers: headers)
        let probe = WebSocketProbe(session)
        _ = try await probe.next(type: "notification")
        return probe
    }

    /// Opens an SSE stream.
    func stream(_ path: String = "/events", lastEventID: String? = nil, headers: [(String, String)] = []) async throws -> SSEProbe {
        SSEProbe(try await http.openEventStream(path, lastEventID: lastEventID, headers: headers))
    }

    /// Publishes through `POST /api/publish`; returns the event id.
    @discardableResult
    func publish(_ room: String, _ data: JSONValue, type: String = "message", user: String = "api") async throws -> String {
        let reply = try await http.request(
            "POST", "/api/publish", json: ["room": .string(room), "event_type": .string(type), "data": data, "user_id": .string(user)])
        guard reply.status == 200, let id = reply.body?["event"]?["event_id"]?.stringValue else {
            throw ProbeError.unexpected("publish failed: \(reply.status) \(reply.text)")
        }
        return id
    }

    /// Writes (or replaces, atomically) a plugin file in the hub's plugins directory.
    func writePlugin(_ name: String, _ source: String) throws {
        guard let pluginsDirectory else { throw ProbeError.unexpected("this hub has no plugins directory") }
        try source.write(toFile: (pluginsDirectory as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Deletes a plugin file from the hub's plugins directory.
    func removePlugin(_ name: String) throws {
        guard let pluginsDirectory else { throw ProbeError.unexpected("this hub has no plugins directory") }
        try FileManager.default.removeItem(atPath: (pluginsDirectory as NSString).appendingPathComponent(name))
    }

    /// `POST /api/plugins/reload`.
    func reloadPlugins() async throws -> HubHTTPClient.Reply {
        try await http.request("POST", "/api/plugins/reload")
    }

    /// The entry of plugin `name` in `GET /api/plugins`, or `nil` when it is not loaded.
    func pluginListing(_ name: String) async throws -> JSONValue? {
        let reply = try await http.request("GET", "/api/plugins")
        guard reply.status == 200 else { throw ProbeError.unexpected("GET /api/plugins: \(reply.status) \(reply.text)") }
        return reply.body?["plugins"]?.arrayValue?.first { $0["name"]?.stringValue == name }
    }

    /// Advances `clock` by `step` until `condition` holds (checked after each step), or fails after
    /// `timeout` of real time: for timers and timeouts running on a `ManualClock`.
    func advance(_ clock: ManualClock, by step: Duration, until what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool)
        async throws
    {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw ProbeError.timeout(what) }
            clock.advance(by: step)
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until `condition` holds (checked every 10 ms), or fails after `timeout`.
    func eventually(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ProbeError.timeout(what)
    }
}

/// Runs `body` against a fresh hub without plugins; shuts it down gracefully afterwards. With a
/// `ManualClock`, the hub's timeouts and housekeeping happen when the test advances it.
func withLiveHub(
    _ configure: (inout ServerConfiguration) -> Void = { _ in },
    clock: any HubClock = SystemClock(),
    _ body: (LiveHub) async throws -> Void
) async throws {
    try await runLiveHub(
        { configuration in
            configuration.pluginsDirectory = ""
            configure(&configuration)
        }, pluginsDirectory: nil, clock: clock, body)
}

/// Lua plugins for a live hub: sources written into a fresh temporary directory, with their settings.
struct LivePlugins: Sendable {
    /// File name (`auth.lua`) and source of each plugin.
    var files: [(name: String, source: String)]
    /// `[plugins.NAME]` settings.
    var settings: [String: JSONObject] = [:]
    /// Whether the hub watches the directory (off by default, so reloads happen only when a test asks).
    var watch = false

    init(_ files: [(name: String, source: String)], settings: [String: JSONObject] = [:], watch: Bool = false) {
        self.files = files
        self.settings = settings
        self.watch = watch
    }

    /// The source of a plugin shipped in the repository's `plugins/` directory.
    static func shipped(_ name: String) -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("plugins").appendingPathComponent("\(name).lua").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            fatalError("shipped plugin \(path) not found")
        }
        return text
    }

    /// Shipped plugins by name (`auth` → `auth.lua`), with settings.
    static func shipped(_ names: [String], settings: [String: JSONObject] = [:], watch: Bool = false) -> LivePlugins {
        LivePlugins(names.map { ("\($0).lua", shipped($0)) }, settings: settings, watch: watch)
    }
}

/// Runs `body` against a fresh hub whose plugins are `plugins`, copied into a fresh temporary directory
/// and loaded before the server starts (any load failure fails the test); removes the directory afterwards.
func withLiveHub(
    plugins: LivePlugins,
    _ configure: (inout ServerConfiguration) -> Void = { _ in },
    clock: any HubClock = SystemClock(),
    _ body: (LiveHub) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("moonwire-plugins-\(RandomID.token(length: 12))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for (name, source) in plugins.files {
        try source.write(toFile: (directory as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    try await runLiveHub(
        { configuration in
            configuration.pluginsDirectory = directory
            configuration.pluginSettings = plugins.settings
            configuration.pluginWatch = plugins.watch
            configure(&configuration)
        }, pluginsDirectory: directory, clock: clock, body)
}

private func runLiveHub(
    _ configure: (inout ServerConfiguration) -> Void,
    pluginsDirectory: String?,
    clock: any HubClock,
    _ body: (LiveHub) async throws -> Void
) async throws {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.logLevel = .error
    configuration.examplesDirectory = ""
    configure(&configuration)
    var logger = Logger(label: "moonwire.test")
    logger.logLevel = configuration.logLevel
    let app = MoonwireApplication(configuration: configuration, logger: logger, clock: clock)
    if pluginsDirectory != nil {
        guard let report = app.loadPlugins() else { throw ProbeError.unexpected("the hub has no plugin host") }
        if !report.failed.isEmpty {
            throw ProbeError.unexpected("plugins failed to load: \(report.failed.map { "\($0.plugin): \($0.message)" })")
        }
    }
    let (ports, portContinuation) = AsyncStream<Int>.makeStream()
    let group = ServiceGroup(
        configuration: .init(
            services: app.services(onServerRunning: { portContinuation.yield($0) }).map { .init(service: $0) },
            logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ProbeError.unexpected("server did not start") }
        let live = LiveHub(port: port, hub: app.hub, serviceGroup: group, pluginsDirectory: pluginsDirectory, pluginHost: app.plugins)
        var failure: (any Error)?
        do {
            try await body(live)
        } catch {
            failure = error
        }
        await group.triggerGracefulShutdown()
        var shutdownFailure: (any Error)?
        do {
            try await tasks.waitForAll()
        } catch {
            shutdownFailure = error
        }
        if let pluginsDirectory { try? FileManager.default.removeItem(atPath: pluginsDirectory) }
        if let failure { throw failure }
        if let shutdownFailure { throw shutdownFailure }
    }
}

enum ProbeError: Error, CustomStringConvertible {
    case timeout(String)
    case unexpected(String)

    var description: String {
        switch self {
        case .timeout(let what): "timed out waiting for \(what)"
        case .unexpected(let what): what
        }
    }
}
