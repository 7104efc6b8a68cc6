import Logging
import MoonwireClient
import MoonwireCore
import MoonwireServer
import ServiceLifecycle

/// A hub running in this process on a free loopback port, reached over real sockets.
struct LiveHub: Sendable {
    let port: Int
    let hub: Hub
    let serviceGroup: ServiceGroup

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

/// Runs `body` against a fresh hub; shuts it down gracefully afterwards.
func withLiveHub(
    _ configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (LiveHub) async throws -> Void
) async throws {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.logLevel = .error
    configuration.examplesDirectory = ""
    configure(&configuration)
    var logger = Logger(label: "moonwire.test")
    logger.logLevel = configuration.logLevel
    let app = MoonwireApplication(configuration: configuration, logger: logger)
    let (ports, portContinuation) = AsyncStream<Int>.makeStream()
    let group = ServiceGroup(
        configuration: .init(
            services: app.services(onServerRunning: { portContinuation.yield($0) }).map { .init(service: $0) },
            logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ProbeError.unexpected("server did not start") }
        let live = LiveHub(port: port, hub: app.hub, serviceGroup: group)
        var failure: (any Error)?
        do {
            try await body(live)
        } catch {
            failure = error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        if let failure { throw failure }
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
