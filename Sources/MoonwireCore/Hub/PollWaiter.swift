import Synchronization

/// A long-poll waiting for a stored event in any of its rooms, or for its timeout.
final class PollWaiter: Sendable {
    private let state = Mutex<(fired: Bool, continuation: CheckedContinuation<Void, Never>?)>((false, nil))

    /// Wakes the poll (once; later calls do nothing).
    func fire() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.fired = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }

    var hasFired: Bool { state.withLock { $0.fired } }

    /// Waits until `fire()` or until `timeout` has passed on `clock`.
    func wait(timeout: Duration, clock: any HubClock) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let already = self.state.withLock { state -> Bool in
                        if state.fired { return true }
                        state.continuation = continuation
                        return false
                    }
                    if already { continuation.resume() }
                }
            }
            group.addTask {
                try? await clock.sleep(for: timeout)
                self.fire()
            }
            await group.next()
            self.fire()
            group.cancelAll()
        }
    }
}
