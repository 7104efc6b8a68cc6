import LuaRuntime
import MoonwireCore

/// Calls that may wait: the hook runs as a coroutine, and a `hub` function that needs I/O suspends it
/// instead of blocking the thread. While it waits, its state serves other calls; it goes on in the same
/// state, on whichever thread the reply arrives. Every hook but `on_load` / `on_unload` (the reload's
/// atomic hand-over) is called this way, and so are timers. A call starts on the caller's thread and
/// needs no task unless it waits (`start`), which keeps `on_deliver`, once per recipient, cheap.
extension Plugin {
    /// A call that ran until it had to wait; `finish(_:)` waits for what it asked and runs it to its end.
    /// Handed from the thread that started the call to the task that finishes it; never used by two at once.
    final class PendingCall: @unchecked Sendable {
        let hook: PluginHook
        let stateIndex: Int
        let coroutine: LuaCoroutine
        let hops: Int
        /// What the call waits for now.
        var operation: any Sendable
        /// Nanoseconds the call ran on its state so far.
        var elapsed: UInt64

        init(hook: PluginHook, stateIndex: Int, coroutine: LuaCoroutine, hops: Int, operation: any Sendable, elapsed: UInt64) {
            self.hook = hook
            self.stateIndex = stateIndex
            self.coroutine = coroutine
            self.hops = hops
            self.operation = operation
            self.elapsed = elapsed
        }
    }

    /// How a call that may wait began: over already (the common case, with no task or wait), or waiting.
    enum Start {
        case over(Outcome)
        case waiting(PendingCall)
    }

    /// Like `call`, but the call may wait (`PluginWait`) as often as its deadline allows. A version
    /// replaced while a call waits finishes that call.
    func callWaiting(
        _ hook: PluginHook, onState state: Int? = nil, function: (PluginVM) -> LuaRef?, results: Int32 = 1, hops: Int = 0,
        _ arguments: (inout PluginVM) -> [LuaValue]
    ) async -> Outcome {
        switch start(hook, onState: state, function: function, results: results, hops: hops, arguments) {
        case .over(let outcome): return outcome
        case .waiting(let pending): return await finish(pending)
        }
    }

    /// Runs a call that may wait until it is over or waits, on this thread.
    func start(
        _ hook: PluginHook, onState state: Int? = nil, function: (PluginVM) -> LuaRef?, results: Int32 = 1, hops: Int = 0,
        _ arguments: (inout PluginVM) -> [LuaValue]
    ) -> Start {
        if isQuarantined { return .over(.failed(fail(quarantined: hook))) }
        // Timed on the state only: waiting for it, or for what the call waits for, is not counted.
        var elapsed: UInt64 = 0
        enum Began {
            case over(Outcome)
            case running(index: Int, coroutine: LuaCoroutine, step: LuaCoroutine.Step)
        }
        let began: Began? = withState(state) { index, vm in
            if isRetired { return .over(.retired) }
            guard let ref = function(vm) else { return .over(.done([])) }
            vm.context.currentHops.store(hops, ordering: .relaxed)
            let start = MonotonicClock.nanoseconds()
            defer { elapsed += MonotonicClock.nanoseconds() - start }
            let coroutine = vm.state.coroutine(ref, arguments(&vm), results: results)
            return .running(index: index, coroutine: coroutine, step: coroutine.resume())
        }
        switch began {
        case nil:
            return .over(failBusy(hook))
        case .over(let outcome)?:
            return .over(finish(hook, outcome, nanoseconds: elapsed))
        case .running(let index, let coroutine, let step)?:
            if case .suspended(let operation) = step {
                return .waiting(PendingCall(hook: hook, stateIndex: index, coroutine: coroutine, hops: hops, operation: operation, elapsed: elapsed))
            }
            return .over(ended(hook, step, nanoseconds: elapsed))
        }
    }

    /// Waits for what a started call asked, goes on with it (as often as it waits), and returns how it ended.
    func finish(_ pending: PendingCall) async -> Outcome {
        let hook = pending.hook
        while true {
            let result: PluginWait.Result =
                if let wait = pending.operation as? PluginWait {
                    await wait.run(pending.coroutine.deadline)
                } else {
                    .failure("the hub cannot do what this call waited for")
                }
            let resumed = withStateToGoOn(pending.stateIndex) { vm -> LuaCoroutine.Step in
                vm.context.currentHops.store(pending.hops, ordering: .relaxed)
                let start = MonotonicClock.nanoseconds()
                defer { pending.elapsed += MonotonicClock.nanoseconds() - start }
                switch result {
                case .values(let values): return pending.coroutine.resume(with: values)
                case .failure(let message): return pending.coroutine.resume(failing: message)
                }
            }
            guard let resumed else {
                // The state stayed busy past the time a call may run: the version is stuck; the waiting
                // call goes with it (its coroutine is freed with the state).
                pending.coroutine.abandon()
                return failBusy(hook)
            }
            guard case .suspended(let operation) = resumed else { return ended(hook, resumed, nanoseconds: pending.elapsed) }
            pending.operation = operation
        }
    }

    /// Counts a call that ran to its end.
    private func ended(_ hook: PluginHook, _ step: LuaCoroutine.Step, nanoseconds: UInt64) -> Outcome {
        switch step {
        case .done(let values):
            return finish(hook, .done(values), nanoseconds: nanoseconds)
        case .failed(let error):
            return finish(hook, .failed(PluginRuntimeError(hook: hook, version: version, error)), nanoseconds: nanoseconds)
        case .suspended:
            return .done([])  // not reached: callers pass a step that is over
        }
    }
}
