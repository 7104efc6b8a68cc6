import Logging
import LuaRuntime
import MoonwireCore
import Synchronization

/// The hub a spec's `test.hub{}` makes: the real hub (memory broker) with the plugins under test, on a
/// clock that moves only when the spec says (`hub:advance`), and the connections the spec opened.
final class SpecHub: Sendable {
    let clock = ManualClock()
    let host: PluginHost
    let hub: Hub
    private let connections = Mutex<[Int: Connection]>([:])
    private let nextConnection = Atomic<Int>(1)

    /// Loads `plugins` of `directory` with `settings`; throws the load errors.
    init(directory: String, plugins: Set<String>, settings: [String: JSONObject], states: Int) throws(LuaCallError) {
        var options = PluginOptions(directory: directory, watch: false, settings: settings)
        options.onlyPlugins = plugins
        options.statesPerPlugin = states
        var logger = Logger(label: "moonwire.plugins")
        logger.logLevel = .warning  // a plugin's failures, not every load
        host = PluginHost(options: options, store: PluginStore(clock: clock), logger: logger, clock: clock)
        var hubLogger = Logger(label: "moonwire")
        hubLogger.logLevel = .warning
        hub = Hub(configuration: HubConfiguration(), broker: MemoryBroker(historySize: 100), hooks: host, logger: hubLogger, clock: clock)
        host.attach(hub)
        let report = host.reload(trigger: "test")
        if let failure = report.failed.first {
            host.stop()
            throw LuaCallError("test.hub: \(failure.message)")
        }
        let missing = plugins.subtracting(report.loaded)
        if !missing.isEmpty {
            host.stop()
            throw LuaCallError("test.hub: no plugin named \(missing.sorted().map { "'\($0)'" }.joined(separator: ", ")) in \(directory)/")
        }
    }

    /// Stops the plugins' timers and closes the connections.
    func stop() async {
        host.stop()
        for connection in connections.withLock({ Array($0.values) }) {
            await hub.disconnect(connection, reason: .shutdown)
        }
    }

    /// Waits until the plugins have nothing left to do for now (timers due, publishes queued), at most 10 s.
    func settle() async {
        let deadline = ContinuousClock.now + .seconds(10)
        var quiet = 0
        while ContinuousClock.now < deadline {
            if host.isSettled {
                quiet += 1
                if quiet >= 3 { return }
            } else {
                quiet = 0
            }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    func add(_ connection: Connection) -> Int {
        let id = nextConnection.add(1, ordering: .relaxed).oldValue
        connections.withLock { $0[id] = connection }
        return id
    }

    func connection(_ id: Int) throws(LuaCallError) -> Connection {
        guard let connection = connections.withLock({ $0[id] }) else { throw LuaCallError("test: no such connection") }
        return connection
    }
}
