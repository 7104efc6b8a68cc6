import Synchronization

/// A clock that moves only when told to (`advance(by:)`): timeouts, housekeeping and timers under test run
/// on it, so a test decides when they fire instead of racing the machine's load.
///
/// ```swift
/// let clock = ManualClock()
/// let hub = Hub(configuration: configuration, broker: broker, clock: clock)
/// clock.advance(by: .seconds(61))   // every sleeper due by then wakes up
/// ```
public final class ManualClock: HubClock {
    private struct Sleeper {
        let deadline: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Timer {
        let deadline: UInt64
        let action: @Sendable () -> Void
    }

    private struct State {
        var now: UInt64
        var sleepers: [Int: Sleeper] = [:]
        var timers: [Int: Timer] = [:]
        /// Sleeps that have begun but not yet registered, and those of them cancelled meanwhile.
        var starting: Set<Int> = []
        var cancelled: Set<Int> = []
        var nextID = 0
    }

    private let state: Mutex<State>

    /// A clock reading `start` nanoseconds (far from zero, so that "now minus a timeout" never underflows).
    public init(start: UInt64 = 1_000_000_000_000_000) {
        state = Mutex(State(now: start))
    }

    public func now() -> UInt64 { state.withLock { $0.now } }

    /// Tasks sleeping on this clock now.
    public var sleepers: Int { state.withLock { $0.sleepers.count } }

    public func sleep(for duration: Duration) async throws {
        try await sleep(fromNow: duration.nanoseconds, until: nil)
    }

    public func sleep(until deadline: UInt64) async throws {
        try await sleep(fromNow: 0, until: deadline)
    }

    /// Sleeps until `deadline`, or (when it is nil) until `delay` after the clock's reading when the sleep
    /// registers.
    private func sleep(fromNow delay: UInt64, until fixed: UInt64?) async throws {
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            state.starting.insert(state.nextID)
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    state.starting.remove(id)
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    let (relative, overflow) = state.now.addingReportingOverflow(delay)
                    let deadline = fixed ?? (overflow ? .max : relative)
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                if let sleeper = state.sleepers.removeValue(forKey: id) { return sleeper }
                if state.starting.contains(id) { state.cancelled.insert(id) }
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    public func schedule(at deadline: UInt64, _ action: @escaping @Sendable () -> Void) -> any HubTimer {
        let id = state.withLock { state -> Int? in
            guard deadline > state.now else { return nil }
            defer { state.nextID += 1 }
            state.timers[state.nextID] = Timer(deadline: deadline, action: action)
            return state.nextID
        }
        guard let id else {
            action()
            return ManualTimer(clock: nil, id: 0)
        }
        return ManualTimer(clock: self, id: id)
    }

    fileprivate func cancelTimer(_ id: Int) {
        _ = state.withLock { $0.timers.removeValue(forKey: id) }
    }

    /// Moves the clock forward and wakes every sleeper and runs every timer whose deadline has come,
    /// earliest first.
    public func advance(by duration: Duration) {
        let (due, timers) = state.withLock { state -> ([Sleeper], [Timer]) in
            let (next, overflow) = state.now.addingReportingOverflow(duration.nanoseconds)
            state.now = overflow ? .max : next
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            let timers = state.timers.filter { $0.value.deadline <= now }
            for id in timers.keys { state.timers.removeValue(forKey: id) }
            return (due.values.sorted { $0.deadline < $1.deadline }, timers.values.sorted { $0.deadline < $1.deadline })
        }
        for sleeper in due { sleeper.continuation.resume() }
        for timer in timers { timer.action() }
    }
}

/// A timer on a `ManualClock`.
private struct ManualTimer: HubTimer {
    weak let clock: ManualClock?
    let id: Int
    func cancel() { clock?.cancelTimer(id) }
}
