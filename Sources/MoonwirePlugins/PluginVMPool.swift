import LuaRuntime
import MoonwireCore
import Synchronization

/// The Lua states of one plugin version, built from the same source, each behind its own gate. A call
/// takes whichever state is free, so calls of one plugin run in parallel, one per state; timers and the
/// host's own work (load, unload) address a state by its index. State 0 is the version's first state: it
/// runs `on_unload` and the timers started while loading.
final class PluginVMPool: Sendable {
    private let gates: [PluginVMGate]
    /// The states, reached outside their gates only to interrupt a stuck call.
    private nonisolated(unsafe) let states: [LuaState]
    /// Where the next call starts looking for a free state, so that calls spread over the states.
    private let nextStart = Atomic<Int>(0)

    init(_ vms: [PluginVM]) {
        precondition(!vms.isEmpty, "a plugin version has at least one state")
        gates = vms.map(PluginVMGate.init)
        states = vms.map(\.state)
    }

    /// How many states the version has.
    var count: Int { gates.count }

    /// Runs `body` on a free state; when every state is busy, waits at most `wait` for one (`nil`: as
    /// long as it takes). `nil` when none became free. `body` gets the state's index.
    func withAnyVM<R>(waitingAtMost wait: Duration?, _ body: (Int, inout PluginVM) -> R) -> R? {
        if gates.count == 1 { return gates[0].withVM(waitingAtMost: wait) { body(0, &$0) } }
        let start = nextStart.wrappingAdd(1, ordering: .relaxed).oldValue.magnitude % UInt(gates.count)
        for offset in 0..<gates.count {
            let index = (Int(start) + offset) % gates.count
            if let result = gates[index].withVM(waitingAtMost: .zero, { body(index, &$0) }) { return result }
        }
        let index = Int(start)
        return gates[index].withVM(waitingAtMost: wait) { body(index, &$0) }
    }

    /// Runs `body` on the state at `index`, waiting at most `wait` for it.
    func withVM<R>(at index: Int, waitingAtMost wait: Duration?, _ body: (inout PluginVM) -> R) -> R? {
        guard gates.indices.contains(index) else { return nil }
        return gates[index].withVM(waitingAtMost: wait, body)
    }

    /// Runs `body` on state 0 while holding every state, so that no call runs anywhere in the version
    /// meanwhile (a hand-over to a new version). Waits at most `wait` for each state; `nil` when one
    /// stayed busy (nothing ran).
    func withEveryVMHeld<R>(waitingAtMost wait: Duration?, _ body: (inout PluginVM) -> R) -> R? {
        var held = 0
        defer { for gate in gates.prefix(held) { gate.release() } }
        for gate in gates {
            guard gate.acquire(waitingAtMost: wait) else { return nil }
            held += 1
        }
        return gates[0].withAcquiredVM(body)
    }

    /// Nanoseconds the longest-running call of the version has run, or `nil` while every state is free.
    func busyFor(now: UInt64 = MonotonicClock.nanoseconds()) -> UInt64? {
        gates.compactMap { $0.busyFor(now: now) }.max()
    }

    /// Interrupts the calls that have run longer than `nanoseconds` (Lua code stops at once; a C function
    /// when it returns).
    func interruptCalls(runningLongerThan nanoseconds: UInt64, now: UInt64 = MonotonicClock.nanoseconds()) {
        for (gate, state) in zip(gates, states) {
            if let busy = gate.busyFor(now: now), busy > nanoseconds { state.interrupt() }
        }
    }

    /// Bytes the states hold together.
    var memoryUsed: Int { states.reduce(0) { $0 + $1.memoryUsed } }
}
