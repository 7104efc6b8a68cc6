/// A callback scheduled on a `HubClock` (`schedule(at:_:)`); `cancel()` stops it if it has not run yet.
public protocol HubTimer: Sendable {
    func cancel()
}
