import Logging
import LuaRuntime
import MoonwireCore
import Synchronization

/// One loaded version of a plugin: its manifest, its Lua states (a pool built from the same source, each
/// behind a gate), and its counters.
public final class Plugin: Sendable {
    /// The plugin's name: its file's (`auth.lua`, `auth/init.lua` → `auth`).
    public let name: String
    public let version: String
    /// What the plugin says it does (its table's `description`).
    public let summary: String?
    /// Higher runs first.
    public let priority: Int
    public let source: PluginSource
    public let loadedAt: Timestamp
    /// Hooks the plugin defines.
    public let hooks: Set<PluginHook>
    /// Custom event types it registers, with whether each is stored.
    public let eventTypes: [String: PluginEventType]
    /// Its validated settings.
    public let config: JSONObject
    let schema: ConfigSchema
    public let statistics: PluginStatistics
    let context: PluginContext
    /// How long a call waits for the VM, and how long a call may hold it before it counts as stuck.
    let timing: PluginTiming
    private let pool: PluginVMPool
    private let retiredFlag = Atomic<Bool>(false)
    private let quarantinedFlag = Atomic<Bool>(false)

    init(
        name: String, version: String, summary: String? = nil, priority: Int, source: PluginSource, hooks: Set<PluginHook>, eventTypes: [String: PluginEventType],
        config: JSONObject, schema: ConfigSchema, statistics: PluginStatistics, context: PluginContext, timing: PluginTiming, vms: [PluginVM]
    ) {
        self.name = name
        self.version = version
        self.summary = summary
        self.priority = priority
        self.source = source
        self.loadedAt = .now()
        self.hooks = hooks
        self.eventTypes = eventTypes
        self.config = config
        self.schema = schema
        self.statistics = statistics
        self.context = context
        self.timing = timing
        self.pool = PluginVMPool(vms)
    }

    /// The settings schema as JSON (type, default, required, description per key).
    public var settingsSchema: JSONValue { schema.json }

    /// The settings as the API shows them: secret ones masked.
    public var publicConfig: JSONObject { schema.masked(config) }

    /// Whether a newer version (or an unload) replaced this one.
    public var isRetired: Bool { retiredFlag.load(ordering: .acquiring) }

    /// Whether this version was quarantined: one of its calls got stuck past its deadline, so its calls fail
    /// at once (a fresh version built from the same source takes its place).
    public var isQuarantined: Bool { quarantinedFlag.load(ordering: .acquiring) }

    /// The result of one call.
    enum Outcome {
        /// This version was replaced while the call waited: run it on the current version.
        case retired
        case done([LuaResult])
        case failed(PluginRuntimeError)

        var isRetired: Bool {
            if case .retired = self { return true }
            return false
        }
    }

    /// How many Lua states the version runs (calls run in parallel, one per state).
    public var stateCount: Int { pool.count }

    /// Bytes the version's Lua states hold together.
    public var memoryUsed: Int { pool.memoryUsed }

    /// Calls a hook on a free state. `arguments` builds the arguments inside the lock (so prepared tables
    /// can be reused); `hops` is the plugin hop count of the event the hook handles (for `hub.publish`).
    func call(_ hook: PluginHook, results: Int32 = 1, hops: Int = 0, _ arguments: (inout PluginVM) -> [LuaValue]) -> Outcome {
        call(hook, function: { $0.hooks[hook] }, results: results, hops: hops, arguments)
    }

    /// Calls the function `function` picks from a state, counting it under `hook`: on the state at index
    /// `state` (a timer's, or one `on_load` prepares), else on any free one.
    func call(
        _ hook: PluginHook, onState state: Int? = nil, function: (PluginVM) -> LuaRef?, results: Int32 = 1, hops: Int = 0,
        _ arguments: (inout PluginVM) -> [LuaValue]
    ) -> Outcome {
        if isQuarantined { return .failed(fail(quarantined: hook)) }
        // Timed on the VM, from the arguments' conversion to the results': waiting for the VM is not counted.
        var elapsed: UInt64 = 0
        func run(_: Int, _ vm: inout PluginVM) -> Outcome {
            if self.retiredFlag.load(ordering: .acquiring) { return .retired }
            guard let ref = function(vm) else { return .done([]) }
            vm.context.currentHops.store(hops, ordering: .relaxed)
            let start = MonotonicClock.nanoseconds()
            defer { elapsed = MonotonicClock.nanoseconds() - start }
            let args = arguments(&vm)
            switch vm.state.call(ref, args, results: results) {
            case .success(let values): return .done(values)
            case .failure(let error): return .failed(PluginRuntimeError(hook: hook, version: self.version, error))
            }
        }
        guard let outcome = withState(state, run) else { return failBusy(hook) }
        return finish(hook, outcome, nanoseconds: elapsed)
    }

    /// Runs `body` on the state at index `state`, else on any free one, waiting for it at most as long as
    /// a call waits; `nil` when it stayed busy.
    func withState<R>(_ state: Int?, _ body: (Int, inout PluginVM) -> R) -> R? {
        if let state { return pool.withVM(at: state, waitingAtMost: timing.waitForVM) { body(state, &$0) } }
        return pool.withAnyVM(waitingAtMost: timing.waitForVM, body)
    }

    /// Runs `body` on the state at `index` (a waiting call going on), waiting for it as long as a call may
    /// run; `nil` when it stayed busy that long (the version is stuck).
    func withStateToGoOn<R>(_ index: Int, _ body: (inout PluginVM) -> R) -> R? {
        pool.withVM(at: index, waitingAtMost: timing.stuckAfter, body)
    }

    /// Every state held for as long as a call may wait: checks for a stuck call, and fails as busy.
    func failBusy(_ hook: PluginHook) -> Outcome {
        // Another call held the VM for as long as a call may wait: stuck (quarantine), or just busy.
        context.hostIfAlive?.checkStuck(self)
        if isQuarantined { return .failed(fail(quarantined: hook)) }
        let failure = PluginRuntimeError(
            hook: hook, version: version, reason: .busy,
            message: "every state of the plugin was busy with another call for \(timing.waitForVM) (the longest a call waits for one)")
        statistics.recordFailure(failure)
        log(failure)
        return .failed(failure)
    }

    /// Counts (and logs) how a call ended, `nanoseconds` of it on a state.
    func finish(_ hook: PluginHook, _ outcome: Outcome, nanoseconds: UInt64) -> Outcome {
        switch outcome {
        case .retired:
            break
        case .done:
            statistics.record(hook, nanoseconds: nanoseconds)
        case .failed(let failure):
            statistics.record(hook, nanoseconds: nanoseconds, failure: failure)
            log(failure)
        }
        return outcome
    }

    func fail(quarantined hook: PluginHook) -> PluginRuntimeError {
        let failure = PluginRuntimeError(
            hook: hook, version: version, reason: .quarantined,
            message: "this version is quarantined: one of its calls got stuck past its deadline")
        statistics.recordFailure(failure)
        log(failure)
        return failure
    }

    /// Records and logs that a hook returned something it may not: `value`, where `expected` was due.
    func reportBadReturn(_ hook: PluginHook, _ value: LuaResult, expected: String) {
        let what: String
        switch value {
        case .unreadable(let reason): what = "a value with no JSON form: \(reason)"
        case .function: what = "a function"
        case .bool(let flag): what = "\(flag)"
        case .value(let json): what = "a \(json.typeName)"
        case .none: what = "nothing"
        }
        let failure = PluginRuntimeError(
            hook: hook, version: version, reason: .badReturn, message: "\(hook.rawValue) returned \(what); it may return \(expected)")
        statistics.recordFailure(failure)
        log(failure)
    }

    /// Logs a failure with the plugin, version, hook, reason and file:line; at most once a second per hook
    /// and reason (the count of those not logged goes with the next line).
    private func log(_ failure: PluginRuntimeError) {
        guard let host = context.hostIfAlive else { return }
        let (shouldLog, suppressed) = statistics.shouldLog(failure.hook, failure.reason)
        guard shouldLog else { return }
        var metadata: Logger.Metadata = [
            "plugin": "\(name)", "version": "\(version)", "hook": "\(failure.hook.rawValue)", "reason": "\(failure.reason.rawValue)",
            "error": "\(failure.detail)",
        ]
        if let location = failure.location { metadata["location"] = "\(location)" }
        if suppressed > 0 { metadata["not_logged_since_last"] = "\(suppressed)" }
        host.logger.error("plugin hook failed", metadata: metadata)
    }

    /// Runs `body` on the state at `index` (for the host: releasing references); `nil` when the state
    /// stayed busy past the time a call may take.
    @discardableResult
    func withVM<R>(at index: Int, _ body: (inout PluginVM) -> R) -> R? {
        pool.withVM(at: index, waitingAtMost: timing.stuckAfter) { body(&$0) }
    }

    /// Runs `body` on the first state while holding every state, and retires this version when it
    /// returns true: later calls report `.retired`. Holding every state makes the handover atomic with
    /// respect to calls. `nil` when a state stayed busy past the time a call may take (the version is
    /// stuck): nothing ran, nothing changed.
    func retire(when body: (inout PluginVM) -> Bool) -> Bool? {
        pool.withEveryVMHeld(waitingAtMost: timing.stuckAfter) { vm in
            guard body(&vm) else { return false }
            retiredFlag.store(true, ordering: .releasing)
            return true
        }
    }

    /// Retires this version without touching its VM (it is stuck, or it never became active).
    func retireNow() {
        retiredFlag.store(true, ordering: .releasing)
    }

    /// Quarantines this version if a call has held its VM past `timing.stuckAfter`, and interrupts that call
    /// (Lua code stops at once; a C function when it returns); true when this call quarantined it.
    func quarantineIfStuck(now: UInt64 = MonotonicClock.nanoseconds()) -> Bool {
        let stuckAfter = timing.stuckAfter.nanoseconds
        guard let busy = pool.busyFor(now: now), busy > stuckAfter else { return false }
        guard quarantinedFlag.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return false }
        pool.interruptCalls(runningLongerThan: stuckAfter, now: now)
        return true
    }

    /// How long the longest-running call of the version has run, if one does.
    var busyFor: Duration? { pool.busyFor().map { .nanoseconds(Int64(clamping: $0)) } }
}

/// How long a plugin call waits for its VM, and when a running call counts as stuck.
struct PluginTiming: Sendable {
    /// Longest wait for the VM while another call holds it; the call then fails as `busy`.
    var waitForVM: Duration
    /// A call holding the VM longer than this is stuck: the version is quarantined.
    var stuckAfter: Duration
}
