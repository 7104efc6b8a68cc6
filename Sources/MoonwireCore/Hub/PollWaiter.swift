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

    /// Waits until `fire()`, until `clock` reads `deadline`, or until the task is cancelled: one
    /// continuation and one clock timer, no task of its own.
    func wait(until deadline: UInt64, clock: any HubClock) async {
        let timer = clock.schedule(at: deadline) { [self] in fire() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let already = state.withLock { state -> Bool in
                    if state.fired { return true }
                    state.continuation = continuation
                    return false
                }
                if already { continuation.resume() }
            }
        } onCancel: {
            fire()
        }
        timer.cancel()
    }
}
