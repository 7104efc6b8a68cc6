import LuaRuntime
import MoonwireCore
import Synchronization

/// What one plugin version's `hub` functions act on (through each state's `PluginStateContext`): the
/// host, the plugin's name, and (once loaded) the plugin itself. Timers asked for before the version is
/// active wait here until it is.
///
/// The version owns its context (through its Lua state's host functions); the context points back
/// weakly, so that a replaced version and its Lua state are freed once its last call is over.
final class PluginContext: Sendable {
    private let hostReference: WeakHost
    /// The plugin's name (its file's).
    let name: String
    /// A shadow version (`POST /api/plugins/NAME/shadow`): its `hub` functions change nothing — store
    /// writes, publishes, sends, kicks and timers are answered as if done, and not done.
    let isShadow: Bool
    private let state = Mutex<State>(State())
    private let policy = Mutex(PluginHTTPPolicy.none)

    /// The host; it outlives every plugin call, but timers may fire after it is gone (then nothing runs).
    var host: PluginHost { hostReference.host! }
    var hostIfAlive: PluginHost? { hostReference.host }

    struct State {
        var plugin = WeakPlugin()
        var pendingTimers: [PluginTimers.Request] = []
        var active = false
    }

    init(host: PluginHost, name: String, isShadow: Bool = false) {
        self.hostReference = WeakHost(host: host)
        self.name = name
        self.isShadow = isShadow
    }

    var plugin: Plugin? { state.withLock { $0.plugin.plugin } }

    /// The hosts `hub.http.request` may reach (the plugin table's `http.allow`).
    var httpPolicy: PluginHTTPPolicy {
        get { policy.withLock { $0 } }
        set { policy.withLock { $0 = newValue } }
    }

    func attach(_ plugin: Plugin) {
        state.withLock { $0.plugin = WeakPlugin(plugin: plugin) }
    }

    /// Timers asked for while loading that have not started yet.
    var pendingTimerCount: Int { state.withLock { $0.pendingTimers.count } }

    /// Schedules a timer now if the version is active, else when it becomes active.
    func schedule(_ request: PluginTimers.Request) -> Int {
        if isShadow { return request.id }
        let (active, plugin) = state.withLock { state -> (Bool, Plugin?) in
            if !state.active { state.pendingTimers.append(request) }
            return (state.active, state.plugin.plugin)
        }
        if active, let plugin { hostIfAlive?.timers.start(request, for: plugin) }
        return request.id
    }

    /// Drops a timer asked for while loading, before it started; returns whether it was there.
    func cancelPending(_ id: Int) -> Bool {
        state.withLock { state in
            guard let index = state.pendingTimers.firstIndex(where: { $0.id == id }) else { return false }
            state.pendingTimers.remove(at: index)
            return true
        }
    }

    /// Marks the version active and starts the timers it asked for while loading.
    func activate() {
        let (pending, plugin) = state.withLock { state -> ([PluginTimers.Request], Plugin?) in
            state.active = true
            defer { state.pendingTimers = [] }
            return (state.pendingTimers, state.plugin.plugin)
        }
        guard let plugin, let host = hostIfAlive else { return }
        for request in pending { host.timers.start(request, for: plugin) }
    }
}

final class WeakHost: Sendable {
    weak let host: PluginHost?
    init(host: PluginHost) { self.host = host }
}

struct WeakPlugin: Sendable {
    weak var plugin: Plugin?
}
