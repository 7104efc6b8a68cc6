import Dispatch

/// The real monotonic clock (`CLOCK_MONOTONIC`), `Task.sleep`, and Dispatch timers.
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

    public func schedule(at deadline: UInt64, _ action: @escaping @Sendable () -> Void) -> any HubTimer {
        let item = DispatchWorkItem(block: action)
        let now = now()
        let delay = deadline > now ? deadline - now : 0
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: delay)), execute: item)
        return DispatchTimer(item: item)
    }
}

/// A Dispatch work item waiting for its time.
private struct DispatchTimer: HubTimer, @unchecked Sendable {
    // DispatchWorkItem is thread-safe; it is not marked Sendable on every platform.
    let item: DispatchWorkItem
    func cancel() { item.cancel() }
}
