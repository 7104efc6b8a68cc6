/// The real monotonic clock (`CLOCK_MONOTONIC`), and `Task.sleep`.
public struct SystemClock: HubClock {
    public init() {}

    public func now() -> UInt64 { MonotonicClock.nanoseconds() }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }

    public func sleep(until deadline: UInt64) async throws {
        let now = now()
        guard deadline > now else { return try Task.checkCancellation() }
        try await Task.sleep(for: .nanoseconds(Int64(clamping: deadline - now)))
    }
}
