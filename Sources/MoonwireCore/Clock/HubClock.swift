/// The hub's source of time for timeouts, housekeeping and timers: monotonic nanoseconds, and sleeping.
/// Production uses `SystemClock`; tests inject a `ManualClock` and move time themselves.
public protocol HubClock: Sendable {
    /// Nanoseconds from an arbitrary fixed point; never goes backwards.
    func now() -> UInt64
    /// Suspends for `duration` of this clock's time; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

extension HubClock {
    /// Suspends until this clock reads `deadline` (returns at once if it already has).
    public func sleep(until deadline: UInt64) async throws {
        let now = now()
        guard deadline > now else {
            try Task.checkCancellation()
            return
        }
        try await sleep(for: .nanoseconds(Int64(clamping: deadline - now)))
    }
}
