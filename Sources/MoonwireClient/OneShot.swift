import Synchronization

/// A value that is set once and awaited by any number of tasks. A waiting task that is cancelled stops
/// waiting with `CancellationError`; the value itself stays unset for the others.
final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value, any Error>] = [:]
        var cancelled: Set<Int> = []
        var nextID = 0
    }

    private let state = Mutex(State())

    init() {}

    /// Sets the value and wakes every waiter; `false` (and nothing changes) when it was set already.
    @discardableResult
    func resolve(_ value: Value) -> Bool {
        let waiters: [CheckedContinuation<Value, any Error>]? = state.withLock { state in
            guard state.value == nil else { return nil }
            state.value = value
            let waiters = Array(state.waiters.values)
            state.waiters = [:]
            return waiters
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: value) }
        return true
    }

    /// The value, if it is set.
    var current: Value? { state.withLock { $0.value } }

    /// Waits for the value.
    func value() async throws -> Value {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let now: OneShotWait<Value> = state.withLock { state in
                    if let value = state.value { return .value(value) }
                    if state.cancelled.remove(id) != nil { return .cancelled }
                    state.waiters[id] = continuation
                    return .wait
                }
                switch now {
                case .value(let value): continuation.resume(returning: value)
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Value, any Error>? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                if state.value == nil { state.cancelled.insert(id) }
                return nil
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}

/// Runs `operation`, giving up with `error` after `limit`. On time-out the operation's task is cancelled
/// but not awaited, so an operation that ignores cancellation cannot hold the caller.
func withDeadline<T: Sendable>(
    _ limit: Duration, orFail error: MoonwireError, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = OneShot<Result<T, any Error>>()
    let work = Task {
        do {
            outcome.resolve(.success(try await operation()))
        } catch {
            outcome.resolve(.failure(error))
        }
    }
    let timer = Task {
        try? await Task.sleep(for: limit)
        if !Task.isCancelled, outcome.resolve(.failure(error)) { work.cancel() }
    }
    defer { timer.cancel() }
    do {
        return try await outcome.value().get()
    } catch let failure as CancellationError {
        work.cancel()
        throw failure
    }
}

private enum OneShotWait<Value> {
    case value(Value)
    case cancelled
    case wait
}
