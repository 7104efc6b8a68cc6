import LuaRuntime
import MoonwireCore

/// The hub a spec's `test.hub{}` makes: the real hub (memory broker) with the plugins under test, on a
/// clock that moves only when the spec says (`hub:advance`), and the connections the spec opened.
final class SpecHub: Sendable {
    let clock: ManualClock
    let host: PluginHost
    let hub: Hub
    private let connections = SpecHandles<Connection>(missing: "test: no such connection")

    /// Loads `plugins` of `directory` with `settings`; throws the load errors.
    init(directory: String, plugins: Set<String>, settings: [String: JSONObject], states: Int) throws(LuaCallError) {
        let local: LocalPluginHub
        do throws(LocalPluginHub.LoadFailure) {
            // Logs a plugin's failures, not every load.
            local = try LocalPluginHub(directory: directory, plugins: plugins, settings: settings, states: states, logLevel: .warning, trigger: "test")
        } catch {
            throw LuaCallError("test.hub: \(error.message)")
        }
        (clock, host, hub) = (local.clock, local.host, local.hub)
        let missing = plugins.subtracting(host.plugins.map(\.name))
        if !missing.isEmpty {
            host.stop()
            throw LuaCallError("test.hub: no plugin named \(missing.sorted().map { "'\($0)'" }.joined(separator: ", ")) in \(directory)/")
        }
    }

    /// Stops the plugins' timers and closes the connections.
    func stop() async {
        host.stop()
        for connection in connections.all {
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

    func add(_ connection: Connection) -> Int { connections.add(connection) }

    func connection(_ id: Int) throws(LuaCallError) -> Connection { try connections.get(id) }
}
