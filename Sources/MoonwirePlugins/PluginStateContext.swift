import MoonwireCore
import Synchronization

/// What the `hub` functions of one Lua state act on: its plugin version's context, the state's index in
/// the version's pool, and what the call running on the state is handling.
final class PluginStateContext: Sendable {
    /// The version's context (host, name, timers asked for while loading).
    let version: PluginContext
    /// The state's index in its version's pool (0: the first state).
    let index: Int
    /// The plugin hop count of the event the current call handles (`hub.publish` adds one).
    let currentHops = Atomic<Int>(0)
    /// False while a state other than the first runs the plugin's file and `on_load`: the timers it asks
    /// for then are not started, since the first state started the same ones (load-time timers run once).
    let startsTimers: Atomic<Bool>
    /// Timers this state asked for while `startsTimers` was false (held to the same limit as started ones).
    let skippedTimers = Atomic<Int>(0)

    init(version: PluginContext, index: Int) {
        self.version = version
        self.index = index
        self.startsTimers = Atomic(index == 0)
    }

    var host: PluginHost { version.host }
    var hostIfAlive: PluginHost? { version.hostIfAlive }
    /// The plugin's name (its file's).
    var name: String { version.name }
    var plugin: Plugin? { version.plugin }
    var pendingTimerCount: Int { version.pendingTimerCount }

    func schedule(_ request: PluginTimers.Request) -> Int { version.schedule(request) }
    func cancelPending(_ id: Int) -> Bool { version.cancelPending(id) }
}
