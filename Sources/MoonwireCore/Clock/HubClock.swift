/// The hub's source of time for timeouts, housekeeping and timers: monotonic nanoseconds, and sleeping.
/// Production uses `SystemClock`; tests inject a `ManualClock` and move time themselves.
public protocol HubClock: Sendable {
    /// Nanoseconds from an arbitrary fixed point; never goes backwards.
    func now() -> UInt64
    /// Suspends for `duration` of this clock's time; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
    /// Suspends until this clock reads `deadline` (returns at once if it already has).
    func sleep(until deadline: UInt64) async throws
    /// Runs `action` once this clock reads `deadline`, on some thread, without a task waiting meanwhile.
    func schedule(at deadline: UInt64, _ action: @escaping @Sendable () -> Void) -> any HubTimer
}

extension HubClock {
    /// For clocks without a timer of their own: a task sleeping on the clock.
    public func schedule(at deadline: UInt64, _ action: @escaping @Sendable () -> Void) -> any HubTimer {
        TaskTimer(Task {
            guard (try? await sleep(until: deadline)) != nil else { return }
            action()
        })
    }
}

/// A timer that is a sleeping task.
private struct TaskTimer: HubTimer {
    let task: Task<Void, Never>
    init(_ task: Task<Void, Never>) { self.task = task }
    func cancel() { task.cancel() }
}
