import Foundation
import MoonwireClient
import MoonwireCore
import Synchronization

/// A `moonwire serve` process (the built binary) on a free loopback port: one node of a cluster, or a
/// single hub restarted on the same port. Stopped gracefully with `stop()`, killed with `kill()`.
final class HubNode: Sendable {
    let name: String
    let port: Int
    private let arguments: [String]
    private let process = Mutex<CommandRun?>(nil)
    /// Output of earlier runs (for failure messages).
    private let history = Mutex<String>("")

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var webSocketURL: String { "ws://127.0.0.1:\(port)/ws" }
    var http: HubHTTPClient { HubHTTPClient(baseURL: baseURL) }

    /// - Parameter arguments: flags after `serve --port P` (`--broker ...`, `--set ...`).
    init(_ name: String, _ arguments: [String]) throws {
        self.name = name
        self.port = try freeLoopbackPort()
        self.arguments = arguments
    }

    /// Starts the node; returns once it listens and (with Redis) its broker is healthy.
    func start(waitForBroker: Bool = true) async throws {
        let run = try CommandRun(
            [
                "serve", "--host", "127.0.0.1", "--port", String(port), "--log-level", "info", "--plugins", "",
                "--set", "server.examples_dir=", "--set", "server.shutdown_timeout=2",
            ] + arguments)
        process.withLock { $0 = run }
        try await run.waitForStdout("Moonwire listening", timeout: .seconds(20))
        if waitForBroker {
            try await eventually("\(name)'s broker to be healthy", timeout: .seconds(10)) { try await brokerHealthy() }
        }
    }

    /// Stops the node with SIGTERM (graceful shutdown), waiting for it to exit.
    func stop() async throws {
        guard let run = take() else { return }
        run.terminate()
        _ = try await run.exitStatus(timeout: .seconds(15))
        history.withLock { $0 += run.stdout + run.stderr }
    }

    /// Kills the node with SIGKILL: nothing is cleaned up (its presence entries stay in Redis until they expire).
    func kill() async throws {
        guard let run = take() else { return }
        run.forceKill()
        _ = try await run.exitStatus(timeout: .seconds(10))
        history.withLock { $0 += run.stdout + run.stderr }
    }

    private func take() -> CommandRun? {
        process.withLock { process in
            defer { process = nil }
            return process
        }
    }

    /// Everything the node printed so far.
    var output: String {
        history.withLock { $0 } + (process.withLock { $0.map { $0.stdout + $0.stderr } } ?? "")
    }

    // MARK: Clients

    /// Opens a WebSocket as `user` (it joins `general`); waits for the welcome.
    func connect(_ user: String) async throws -> WebSocketProbe {
        let session = try await WebSocketSession.connect(url: webSocketURL, authFrame: ["user_id": .string(user), "metadata": [:]])
        let probe = WebSocketProbe(session)
        _ = try await probe.next(type: "notification")
        return probe
    }

    /// Opens an SSE stream.
    func stream(_ path: String, lastEventID: String? = nil) async throws -> SSEProbe {
        SSEProbe(try await http.openEventStream(path, lastEventID: lastEventID))
    }

    /// `POST /api/publish`; the reply (status and body).
    func publishReply(_ room: String, _ data: JSONValue, type: String = "message", user: String = "api") async throws -> HubHTTPClient.Reply {
        try await http.request(
            "POST", "/api/publish", json: ["room": .string(room), "event_type": .string(type), "data": data, "user_id": .string(user)])
    }

    /// `POST /api/publish`; the event id.
    @discardableResult
    func publish(_ room: String, _ data: JSONValue, type: String = "message", user: String = "api") async throws -> String {
        let reply = try await publishReply(room, data, type: type, user: user)
        guard reply.status == 200, let id = reply.body?["event"]?["event_id"]?.stringValue else {
            throw ProbeError.unexpected("publish on \(name) failed: \(reply.status) \(reply.text)")
        }
        return id
    }

    /// `GET /poll?query`, expecting 200; the body.
    func poll(_ query: String) async throws -> JSONValue {
        let reply = try await http.request("GET", "/poll?" + query)
        guard reply.status == 200, let body = reply.body else {
            throw ProbeError.unexpected("poll \(query) on \(name) failed: \(reply.status) \(reply.text)")
        }
        return body
    }

    /// `GET /api/stats`.
    func stats() async throws -> JSONValue {
        let reply = try await http.request("GET", "/api/stats")
        guard reply.status == 200, let body = reply.body else { throw ProbeError.unexpected("stats on \(name): \(reply.status)") }
        return body
    }

    func brokerHealthy() async throws -> Bool {
        try await stats()["broker"]?["healthy"] == true
    }

    /// Waits until `condition` holds (checked every 20 ms), or fails after `timeout`.
    func eventually(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ProbeError.timeout("\(what)\n--- \(name) output ---\n\(output.suffix(3000))")
    }
}

/// Runs `body` with `count` nodes sharing `redis` (extra flags for each in `arguments`); stops them afterwards.
func withCluster(
    _ count: Int, redis: RedisServer, arguments: [String] = [], _ body: ([HubNode]) async throws -> Void
) async throws {
    var nodes: [HubNode] = []
    do {
        for index in 1...count {
            let node = try HubNode("node\(index)", ["--broker", redis.url] + arguments)
            nodes.append(node)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { try await node.start() } }
            try await group.waitForAll()
        }
        try await body(nodes)
    } catch {
        for node in nodes { try? await node.kill() }
        throw error
    }
    for node in nodes { try? await node.stop() }
}
