import Foundation
import Logging
import MoonwireClient
import MoonwireCore
import MoonwireServer
import ServiceLifecycle
import Synchronization

/// A live hub (no plugins) that a test can stop and start again on the same port: each start is a new
/// `MoonwireApplication`, so the memory history is empty again and starts at the new start time, as after
/// a real restart. `live` is the running instance (its `hub`, `publish`, `eventually`, …).
final class RestartableHub: Sendable {
    private struct Running {
        var live: LiveHub
        var task: Task<Void, any Error>
    }

    private let configuration: ServerConfiguration
    private let state = Mutex<(port: Int, running: Running?)>((0, nil))

    init(_ configure: (inout ServerConfiguration) -> Void) {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.logLevel = .error
        configuration.examplesDirectory = ""
        configuration.pluginsDirectory = ""
        configure(&configuration)
        self.configuration = configuration
    }

    /// A hub with this whole configuration (its plugins are loaded at every start).
    init(configuration: ServerConfiguration) {
        self.configuration = configuration
    }

    /// The running instance; fails the test when the hub is stopped.
    var live: LiveHub {
        get throws {
            guard let running = state.withLock({ $0.running }) else { throw ProbeError.unexpected("the hub is stopped") }
            return running.live
        }
    }

    /// The port, the same for every start (known after the first).
    var port: Int { state.withLock { $0.port } }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts a new hub (on the port of the first start, if there was one). `beforeListening` runs on the
    /// new hub before its port opens: what it publishes is there before any client can be back.
    func start(beforeListening: (Hub) async throws -> Void = { _ in }) async throws {
        var configuration = self.configuration
        configuration.port = port
        var logger = Logger(label: "moonwire.test")
        logger.logLevel = configuration.logLevel
        let app = try await MoonwireApplication.make(configuration: configuration, logger: logger)
        if let report = app.loadPlugins(), !report.succeeded {
            throw ProbeError.unexpected("plugins failed to load: \(report.failed)")
        }
        try await beforeListening(app.hub)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let group = ServiceGroup(
            configuration: .init(
                services: app.services(onServerRunning: { portContinuation.yield($0) }).map { .init(service: $0) },
                logger: logger))
        let task = Task {
            defer { portContinuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            do {
                _ = try await task.value
            } catch {
                throw ProbeError.unexpected("the hub did not start on port \(configuration.port): \(error)")
            }
            throw ProbeError.unexpected("the hub did not start")
        }
        let live = LiveHub(port: port, hub: app.hub, serviceGroup: group)
        state.withLock { $0 = (port, Running(live: live, task: task)) }
    }

    /// `live.publish`, retried once when the request fails on its way: the shared HTTP client may still
    /// hold a keep-alive connection to the previous instance.
    @discardableResult
    func publish(_ room: String, _ data: JSONValue, type: String = "message") async throws -> String {
        do {
            return try await live.publish(room, data, type: type)
        } catch let error as ProbeError {
            throw error
        } catch {
            return try await live.publish(room, data, type: type)
        }
    }

    /// `live.http.request`, retried once like `publish`.
    func request(_ method: String, _ path: String) async throws -> HubHTTPClient.Reply {
        do {
            return try await live.http.request(method, path)
        } catch let error as ProbeError {
            throw error
        } catch {
            return try await live.http.request(method, path)
        }
    }

    /// Shuts the running hub down gracefully and waits until it is gone.
    func stop() async throws {
        guard let running = state.withLock({ state -> Running? in
            defer { state.running = nil }
            return state.running
        }) else { return }
        await running.live.serviceGroup.triggerGracefulShutdown()
        do {
            try await running.task.value
        } catch {
            throw ProbeError.unexpected("the hub on port \(running.live.port) failed while shutting down: \(error)")
        }
    }
}

/// Runs `body` with a restartable hub, started once; stops it afterwards.
func withRestartableHub(
    _ configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (RestartableHub) async throws -> Void
) async throws {
    try await run(RestartableHub(configure), body)
}

/// Runs `body` with a restartable hub of this whole configuration (plugins included), started once.
func withRestartableHub(_ configuration: ServerConfiguration, _ body: (RestartableHub) async throws -> Void) async throws {
    try await run(RestartableHub(configuration: configuration), body)
}

private func run(_ hub: RestartableHub, _ body: (RestartableHub) async throws -> Void) async throws {
    try await hub.start()
    do {
        try await body(hub)
    } catch {
        try? await hub.stop()
        throw error
    }
    try await hub.stop()
}
