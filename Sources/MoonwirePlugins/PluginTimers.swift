import LuaRuntime
import MoonwireCore
import Synchronization

/// Timers plugins start with `hub.every` / `hub.after`. The host owns them: they stop when their plugin
/// version is retired or unloaded, and a named timer hands its schedule to the next version's timer of the
/// same name, so a reload neither skips nor doubles a beat. They run on the host's clock.
final class PluginTimers: Sendable {
    struct Request: Sendable {
        let id: Int
        let function: LuaRef
        let interval: Duration
        let repeats: Bool
        let name: String?
        /// The index of the Lua state that holds `function` (the timer runs there).
        let state: Int
    }

    private struct Running {
        let plugin: Plugin
        let task: Task<Void, Never>
        let function: LuaRef
        let state: Int
    }

    let clock: any HubClock
    private let nextID = Atomic<Int>(1)
    private let stopped = Atomic<Bool>(false)
    private let running = Mutex<[Int: Running]>([:])
    /// When each running timer fires next (monotonic ns), while it waits for it.
    private let nextFires = Mutex<[Int: UInt64]>([:])
    /// Next fire time (clock ns) of named timers, by "plugin/name", kept across versions.
    private let schedules = Mutex<[String: UInt64]>([:])

    init(clock: any HubClock) {
        self.clock = clock
    }

    func makeID() -> Int { nextID.add(1, ordering: .relaxed).oldValue }

    /// Starts a timer for an active plugin version.
    func start(_ request: Request, for plugin: Plugin) {
        guard !stopped.load(ordering: .acquiring) else { return }
        let key = request.name.map { "\(plugin.name)/\($0)" }
        let interval = request.interval.nanoseconds
        let now = clock.now()
        var firstFire = now &+ interval
        if let key, let inherited = schedules.withLock({ $0[key] }), inherited > now {
            firstFire = inherited
        }
        let first = firstFire
        let clock = self.clock
        let task = Task { [weak self] in
            var next = first
            while !Task.isCancelled {
                self?.nextFires.withLock { $0[request.id] = next }
                do { try await clock.sleep(until: next) } catch { return }
                if plugin.isRetired || self?.stopped.load(ordering: .acquiring) != false { return }
                // The next beat keeps the schedule; after a late wake-up it is counted from now (no burst).
                next = max(next &+ interval, clock.now())
                if let key, request.repeats { self?.schedules.withLock { $0[key] = next } }
                let outcome = await plugin.callWaiting(.timer, onState: request.state, function: { _ in request.function }, results: 0) { _ in [] }
                if case .retired = outcome { return }
                if !request.repeats { break }
            }
            self?.finished(request.id)
        }
        running.withLock { $0[request.id] = Running(plugin: plugin, task: task, function: request.function, state: request.state) }
        if let key { schedules.withLock { $0[key] = first } }
    }

    /// Whether a timer is due at `now` or running its function (`moonwire plugins test` waits for none).
    func anyDue(now: UInt64) -> Bool {
        let ids = running.withLock { Set($0.keys) }
        return nextFires.withLock { fires in ids.contains { (fires[$0] ?? 0) <= now } }
    }

    private func finished(_ id: Int) {
        nextFires.withLock { _ = $0.removeValue(forKey: id) }
        guard let timer = running.withLock({ $0.removeValue(forKey: id) }) else { return }
        timer.plugin.withVM(at: timer.state) { $0.state.release(timer.function) }
    }

    /// Cancels one timer of `plugin`; returns whether it existed.
    @discardableResult
    func cancel(_ id: Int, of plugin: String) -> Bool {
        guard let timer = running.withLock({ timers -> Running? in
            guard let timer = timers[id], timer.plugin.name == plugin else { return nil }
            return timers.removeValue(forKey: id)
        }) else { return false }
        timer.task.cancel()
        return true
    }

    /// Cancels every timer of a plugin version (named schedules are kept for the next version).
    func cancelAll(of plugin: Plugin) {
        let timers = running.withLock { running -> [Running] in
            let mine = running.filter { $0.value.plugin === plugin }
            for id in mine.keys { running.removeValue(forKey: id) }
            return Array(mine.values)
        }
        for timer in timers { timer.task.cancel() }
    }

    /// Stops every timer for good (the hub is shutting down).
    func stopAll() {
        stopped.store(true, ordering: .releasing)
        let timers = running.withLock { running -> [Running] in
            defer { running.removeAll() }
            return Array(running.values)
        }
        for timer in timers { timer.task.cancel() }
    }

    /// Forgets the named schedules of a plugin that is gone for good.
    func forget(plugin name: String) {
        schedules.withLock { $0 = $0.filter { !$0.key.hasPrefix(name + "/") } }
    }

    /// Timers running for a plugin name (every version).
    func count(of name: String) -> Int {
        running.withLock { $0.values.filter { $0.plugin.name == name }.count }
    }

    /// Timers running for one plugin version.
    func count(of plugin: Plugin) -> Int {
        running.withLock { $0.values.filter { $0.plugin === plugin }.count }
    }
}
