/// The real monotonic clock (`CLOCK_MONOTONIC`), and `Task.sleep`.
public struct SystemClock: HubClock {
    public init() {}

    public func now() -> UInt64 { MonotonicClock.nanoseconds() }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
