import LuaRuntime
import MoonwireCore

/// Calls that may wait: the hook runs as a coroutine, and a `hub` function that needs I/O suspends it
/// instead of blocking the thread. While it waits, its state serves other calls; it goes on in the same
/// state, on whichever thread the reply arrives. Every hook but `on_deliver` (and `on_load` /
/// `on_unload`, which run during a reload) is called this way, and so are timers.
extension Plugin {
    /// Like `call`, but the call may wait (`PluginWait`) as often as its deadline allows. A version
    /// replaced while a call waits finishes that call.
    func callWaiting(
        _ hook: PluginHook, onState state: Int? = nil, function: (PluginVM) -> LuaRef?, results: Int32 = 1, hops: Int = 0,
        _ arguments: (inout PluginVM) -> [LuaValue]
    ) async -> Outcome {
        if isQuarantined { return .failed(fail(quarantined: hook)) }
        // Timed on the state only: waiting for it, or for what the call waits for, is not counted.
        var elapsed: UInt64 = 0
        enum Start {
            case over(Outcome)
            case running(index: Int, coroutine: LuaCoroutine, step: LuaCoroutine.Step)
        }
        let started: Start? = withState(state) { index, vm in
            if isRetired { return .over(.retired) }
            guard let ref = function(vm) else { return .over(.done([])) }
            vm.context.currentHops.store(hops, ordering: .relaxed)
            let start = MonotonicClock.nanoseconds()
            defer { elapsed += MonotonicClock.nanoseconds() - start }
            let coroutine = vm.state.coroutine(ref, arguments(&vm), results: results)
            return .running(index: index, coroutine: coroutine, step: coroutine.resume())
        }
        guard let started else { return failBusy(hook) }
        guard case .running(let index, let coroutine, var step) = started else {
            if case .over(let outcome) = started { return finish(hook, outcome, nanoseconds: elapsed) }
            return .done([])
        }
        while case .suspended(let operation) = step {
            let result: PluginWait.Result =
                if let wait = operation as? PluginWait { await wait.run(coroutine.deadline) } else { .failure("the hub cannot do what this call waited for") }
            let resumed = withStateToGoOn(index) { vm -> LuaCoroutine.Step in
                vm.context.currentHops.store(hops, ordering: .relaxed)
                let start = MonotonicClock.nanoseconds()
                defer { elapsed += MonotonicClock.nanoseconds() - start }
                switch result {
                case .values(let values): return coroutine.resume(with: values)
                case .failure(let message): return coroutine.resume(failing: message)
                }
            }
            guard let resumed else {
                // The state stayed busy past the time a call may run: the version is stuck; the waiting
                // call goes with it (its coroutine is freed with the state).
                coroutine.abandon()
                return failBusy(hook)
            }
            step = resumed
        }
        switch step {
        case .done(let values):
            return finish(hook, .done(values), nanoseconds: elapsed)
        case .failed(let error):
            return finish(hook, .failed(PluginRuntimeError(hook: hook, version: version, error)), nanoseconds: elapsed)
        case .suspended:
            return .done([])  // not reached: the loop above runs until the call is over
        }
    }
}
