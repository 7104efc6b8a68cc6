import Foundation
import LuaRuntime
import MoonwireCore
@testable import MoonwirePlugins

/// A plugins directory in a temporary folder, a host over it, and a hub using the host.
final class PluginFixture: Sendable {
    let directory: String
    let host: PluginHost
    let hub: Hub

    /// - Parameters:
    ///   - clock: the clock of the hub, the plugin timers and the store (a `ManualClock` makes timers fire
    ///     only when the test advances it).
    ///   - configure: changes to the plugin options.
    init(
        _ files: [String: String], settings: [String: JSONObject] = [:], limits: LuaLimits = LuaLimits(), passOnPublishError: Bool = false,
        clock: any HubClock = SystemClock(), hubConfiguration: HubConfiguration = HubConfiguration(),
        configure: (inout PluginOptions) -> Void = { _ in }
    ) {
        directory = NSTemporaryDirectory() + "moonwire-plugins-" + RandomID.token(length: 10)
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var options = PluginOptions(directory: directory, limits: limits, passOnPublishError: passOnPublishError, watch: false, settings: settings)
        // Two states per plugin on every machine, so that every test also runs the pool.
        options.statesPerPlugin = 2
        configure(&options)
        host = PluginHost(options: options, store: PluginStore(clock: clock), clock: clock)
        hub = Hub(configuration: hubConfiguration, broker: MemoryBroker(historySize: 100), hooks: host, clock: clock)
        host.attach(hub)
        for (name, source) in files { write(name, source) }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func write(_ name: String, _ source: String) {
        let path = directory + "/" + name
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path, contents: Data(source.utf8))
    }

    func remove(_ name: String) {
        try? FileManager.default.removeItem(atPath: directory + "/" + name)
    }

    @discardableResult
    func reload() -> ReloadReport { host.reload(trigger: "test") }

    /// A hub with `slow.lua` in `states` Lua states: its `on_publish` never returns for `{"stuck": true}`,
    /// and stamps other events (`served`, and `version_loaded_at`, when the version was loaded). The
    /// deadline is checked every `checkInterval` instructions: with an interval no loop reaches, the Lua
    /// loop stands for a C call that the limits cannot stop. Calls time out after 100 ms; a call is stuck
    /// 200 ms later.
    static func withStuckablePlugin(states: Int) -> PluginFixture {
        PluginFixture(
            [
                "slow.lua": """
                    local loaded_at = hub.now()
                    return { on_publish = function(ctx, event)
                      if event.data.stuck then while true do end end
                      event.data.served = true
                      event.data.version_loaded_at = loaded_at
                      return event
                    end }
                    """
            ],
            limits: LuaLimits(memoryBytes: 32 << 20, instructionsPerCall: 0, callTimeout: .milliseconds(100), checkInterval: .max),
            configure: {
                $0.stuckGrace = .milliseconds(200)
                $0.statesPerPlugin = states
            })
    }

    /// Runs a message through the plugins' `on_publish` chain on a thread of its own, not one of the few
    /// threads Swift's tasks share: a call that spins (on purpose) cannot starve the rest of the test run.
    func publishOnOwnThread(_ data: JSONValue, from user: String = "alice") async -> PublishDecision {
        let host = self.host
        let event = Event(type: .message, userID: user, roomID: "general", data: data)
        return await Task(executorPreference: OwnThreadExecutor()) {
            await host.filterPublish(event, from: PublisherInfo(connection: nil, transport: .webSocket, userID: user))
        }.value
    }

    /// Waits until `condition` holds (checked every 5 ms), or fails after `timeout` (generous: the machine may be busy).
    func eventually(_ what: String, timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw FixtureTimeout(what: what) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Advances `clock` by `step` until `condition` holds (timers fire as the clock passes them), or fails
    /// after `timeout` of real time.
    func advance(_ clock: ManualClock, by step: Duration, until what: String, timeout: Duration = .seconds(10), _ condition: () throws -> Bool)
        async throws
    {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw FixtureTimeout(what: what) }
            clock.advance(by: step)
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// A store value as an integer (0 when missing).
    func stored(_ plugin: String, _ key: String) throws -> Int64 {
        try host.store.get(plugin, key)?.intValue ?? 0
    }

    /// A connection of `user` with `roles`, joined to `rooms`.
    func connect(_ user: String, roles: [String] = [], rooms: [String] = ["general"]) async throws -> Connection {
        let connection = try hub.connect(identity: Identity(userID: user, roles: roles), transport: .webSocket)
        for room in rooms { try await hub.join(connection, room: room, replay: Replay.none) }
        _ = drain(connection)
        return connection
    }

    /// What is queued on a connection (the connection stays open).
    func drain(_ connection: Connection) -> [Event] {
        var transport = QueueReader()
        while let batch = connection.takeQueued() { transport.read(batch) }
        return transport.events
    }

    /// Publishes as `connection` (a client frame); returns the error, if any.
    func send(_ connection: Connection, _ type: EventType, room: String = "general", data: JSONValue) async -> HubError? {
        do {
            _ = try await hub.publish(
                Event(type: type, userID: connection.userID, roomID: room, data: data),
                from: PublisherInfo(connection: ConnectionInfo(connection), transport: .webSocket, userID: connection.userID),
                requireKnownType: true)
            return nil
        } catch let error as HubError {
            return error
        } catch {
            return HubError(.internalError, "\(error)")
        }
    }
}

struct FixtureTimeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

struct QueueReader {
    var events: [Event] = []
    mutating func read(_ items: [OutboundItem]) {
        for item in items { if case .event(let e) = item { events.append(e.event) } }
    }
}

/// Runs tasks on a serial dispatch queue, whose thread is not one of the few that Swift's tasks share.
final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let queue = DispatchQueue(label: "moonwire.tests.own-thread")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
