import LuaRuntime
import MoonwireCore
import Synchronization

/// What one plugin version's `hub` functions act on: the host, the plugin's name, and (once loaded) the
/// plugin itself. Timers asked for before the version is active wait here until it is.
final class PluginContext: Sendable {
    private let hostReference: WeakHost

    /// The host; it outlives every plugin call, but timers may fire after it is gone (then nothing runs).
    var host: PluginHost { hostReference.host! }
    var hostIfAlive: PluginHost? { hostReference.host }
    private let state = Mutex<State>(State())

    struct State {
        var name: String
        var plugin: Plugin?
        var pendingTimers: [PluginTimers.Request] = []
        var active = false
        init(name: String = "") { self.name = name }
    }

    init(host: PluginHost, name: String) {
        self.hostReference = WeakHost(host: host)
        state.withLock { $0.name = name }
    }

    var name: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    var plugin: Plugin? { state.withLock { $0.plugin } }

    func attach(_ plugin: Plugin) {
        state.withLock { $0.plugin = plugin }
    }

    /// Schedules a timer now if the version is active, else when it becomes active.
    func schedule(_ request: PluginTimers.Request) -> Int {
        let (active, plugin) = state.withLock { state -> (Bool, Plugin?) in
            if !state.active { state.pendingTimers.append(request) }
            return (state.active, state.plugin)
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
            return (state.pendingTimers, state.plugin)
        }
        guard let plugin, let host = hostIfAlive else { return }
        for request in pending { host.timers.start(request, for: plugin) }
    }
}

final class WeakHost: Sendable {
    weak let host: PluginHost?
    init(host: PluginHost) { self.host = host }
}
