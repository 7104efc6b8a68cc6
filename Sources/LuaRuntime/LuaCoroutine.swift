import CLua
import CLuaShims
import MoonwireCore

/// One call into Lua that may wait: the function runs on a Lua thread of its own, and a host function it
/// calls may suspend it (`LuaCall.suspend`) until the host has what it asked for. The limits hold across
/// the waits: the CPU budget is what the call has left, the deadline is the call's own, counted from its
/// start (waiting included).
///
/// Like its state, a coroutine is not thread-safe: its owner runs `resume` under the state's lock. While
/// it is suspended, other calls (and coroutines) may run on the same state. It is not closed when it is
/// freed (the state may then be running another call on another thread): a coroutine neither finished nor
/// closed keeps its Lua thread until the state is freed.
public final class LuaCoroutine {
    private unowned let state: LuaState
    private let thread: OpaquePointer
    private let threadRef: LuaRef
    private let results: Int32
    /// What the call has left of its budget, and its deadline (monotonic ns; 0: none), while it waits.
    private var savedBudget: Int64 = 0
    private var savedDeadline: UInt64 = 0
    private var started = false
    private var finished = false

    /// What a run of the coroutine came to.
    public enum Step {
        case done([LuaResult])
        case failed(LuaError)
        /// A host function asked to wait for `operation` (what it passed to `LuaCall.suspend`); resume
        /// with what that host function returns.
        case suspended(any Sendable)
    }

    init(state: LuaState, function: LuaRef, arguments: [LuaValue], results: Int32) {
        self.state = state
        self.results = results
        if let spare = state.spareThreads.popLast() {
            thread = spare.thread
            threadRef = LuaRef(id: spare.ref)
        } else {
            let main = state.mainThread
            thread = lua_newthread(main)!
            threadRef = LuaRef(id: mw_ref(main))
        }
        lua_rawgeti(thread, mw_registryindex(), lua_Integer(function.id))
        push(arguments)
    }

    /// Gives the call up without touching the state (whose lock the caller does not hold): its thread is
    /// freed with the state.
    public func abandon() {
        finished = true
    }

    /// The call's deadline (monotonic ns) while it waits; 0 when it has none or has not started.
    public var deadline: UInt64 { savedDeadline }

    /// Whether the call's deadline has passed.
    public var isPastDeadline: Bool { savedDeadline > 0 && MonotonicClock.nanoseconds() > savedDeadline }

    /// Goes on with the waiting host function failing: it raises a Lua error with `message` (which the
    /// script may catch with `pcall`).
    public func resume(failing message: String) -> Step {
        resume(pushing: { mw_push_wait_failure(self.thread, message) ; return 2 })
    }

    /// Runs the call until it returns, fails or waits; the first run passes its arguments, a later one
    /// `values` (the waiting host function's results). A call whose deadline passed while it waited fails
    /// with the time limit, without running.
    public func resume(with values: [LuaValue] = []) -> Step {
        resume(pushing: {
            self.push(values)
            return Int32(values.count)
        })
    }

    /// Pushes `values` on the thread's stack.
    private func push(_ values: [LuaValue]) {
        state.onThread(thread) {
            _ = lua_checkstack(thread, Int32(values.count) + 8)
            for value in values { state.push(value) }
        }
    }

    /// Runs the call; on a later run, `push` puts what the waiting host function gets on the thread's
    /// stack and says how many values that is.
    private func resume(pushing push: () -> Int32) -> Step {
        guard !finished else { return .failed(.runtime(message: "the call is over", traceback: "")) }
        if started, isPastDeadline {
            close()
            return .failed(.limit(.time, location: "", traceback: ""))
        }
        let count: Int32
        if started {
            count = push()
            state.limits.pointee.budget = savedBudget
            state.limits.pointee.deadline_ns = savedDeadline
        } else {
            count = Int32(lua_gettop(thread) - 1)
        }
        let fresh: Int32 = started ? 0 : 1
        started = true
        var produced: Int32 = 0
        let status = mw_resume(state.mainThread, thread, count, &produced, fresh)
        switch status {
        case LUA_YIELD:
            savedBudget = state.limits.pointee.budget
            savedDeadline = state.limits.pointee.deadline_ns
            // Only the yielded values go: what lies below belongs to the waiting function's frame.
            lua_settop(thread, lua_gettop(thread) - produced)
            guard let operation = state.pendingSuspension else {
                close()
                return .failed(.runtime(message: "coroutine.yield outside a coroutine of the plugin's own", traceback: ""))
            }
            state.pendingSuspension = nil
            return .suspended(operation)
        case LUA_OK:
            var values: [LuaResult] = []
            state.onThread(thread) {
                let base = lua_gettop(thread) - produced
                for index in 0..<results {
                    values.append(index < produced ? state.result(at: base + 1 + index) : .none)
                }
            }
            close()
            return .done(values)
        default:
            state.pendingSuspension = nil
            let error = state.popError(status: status)
            close()
            return .failed(error)
        }
    }

    /// Ends the call without running it further; its thread is kept for the state's next coroutine
    /// (a few are), or freed.
    public func close() {
        guard !finished else { return }
        finished = true
        mw_reset_thread(thread)
        if state.spareThreads.count < LuaCoroutine.sparesKept {
            state.spareThreads.append((thread, threadRef.id))
        } else {
            mw_unref(state.mainThread, threadRef.id)
        }
    }

    /// How many finished threads a state keeps for reuse (a call per delivery would otherwise make one).
    static let sparesKept = 4
}

extension LuaState {
    /// A call of `function` that may wait; run it with `resume()`.
    public func coroutine(_ function: LuaRef, _ arguments: [LuaValue], results: Int32) -> LuaCoroutine {
        LuaCoroutine(state: self, function: function, arguments: arguments, results: results)
    }

    /// Runs `body` with the state's functions working on `thread`'s stack.
    func onThread<R>(_ thread: OpaquePointer, _ body: () -> R) -> R {
        let saved = L
        L = thread
        defer { L = saved }
        return body()
    }
}
