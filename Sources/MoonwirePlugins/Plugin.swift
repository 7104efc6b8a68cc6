import Logging
import LuaRuntime
import MoonwireCore
import Synchronization

/// One loaded version of a plugin: its manifest, its Lua state behind a gate, and its counters.
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
    public let eventTypes: [String: Bool]
    /// Its validated settings.
    public let config: JSONObject
    let schema: ConfigSchema
    public let statistics: PluginStatistics
    let context: PluginContext
    /// How long a call waits for the VM, and how long a call may hold it before it counts as stuck.
    let timing: PluginTiming
    private let gate: PluginVMGate
    /// The version's Lua state, reached outside the gate only to interrupt a stuck call.
    private nonisolated(unsafe) let state: LuaState
    private let retiredFlag = Atomic<Bool>(false)
    private let quarantinedFlag = Atomic<Bool>(false)

    init(
        name: String, version: String, summary: String? = nil, priority: Int, source: PluginSource, hooks: Set<PluginHook>, eventTypes: [String: Bool],
        config: JSONObject, schema: ConfigSchema, statistics: PluginStatistics, context: PluginContext, timing: PluginTiming, vm: PluginVM
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
        self.gate = PluginVMGate(vm)
        self.state = vm.state
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
    }

    /// Calls a hook. `arguments` builds the arguments inside the lock (so prepared tables can be reused);
    /// `hops` is the plugin hop count of the event the hook handles (for `hub.publish`).
    func call(_ hook: PluginHook, results: Int32 = 1, hops: Int = 0, _ arguments: (inout PluginVM) -> [LuaValue]) -> Outcome {
        call(hook, function: { $0.hooks[hook] }, results: results, hops: hops, arguments)
    }

    /// Calls the function `function` picks from the VM, counting it under `hook`.
    func call(
        _ hook: PluginHook, function: (PluginVM) -> LuaRef?, results: Int32 = 1, hops: Int = 0,
        _ arguments: (inout PluginVM) -> [LuaValue]
    ) -> Outcome {
        if isQuarantined { return .failed(fail(quarantined: hook)) }
        // Timed on the VM, from the arguments' conversion to the results': waiting for the VM is not counted.
        var elapsed: UInt64 = 0
        let outcome: Outcome? = gate.withVM(waitingAtMost: timing.waitForVM) { vm in
            if retiredFlag.load(ordering: .acquiring) { return .retired }
            guard let ref = function(vm) else { return .done([]) }
            context.currentHops.store(hops, ordering: .relaxed)
            let start = MonotonicClock.nanoseconds()
            defer { elapsed = MonotonicClock.nanoseconds() - start }
            let args = arguments(&vm)
            switch vm.state.call(ref, args, results: results) {
            case .success(let values): return .done(values)
            case .failure(let error): return .failed(PluginRuntimeError(hook: hook, version: version, error))
            }
        }
        guard let outcome else {
            // Another call held the VM for as long as a call may wait: stuck (quarantine), or just busy.
            context.hostIfAlive?.checkStuck(self)
            if isQuarantined { return .failed(fail(quarantined: hook)) }
            let failure = PluginRuntimeError(
                hook: hook, version: version, reason: .busy,
                message: "the plugin was busy with another call for \(timing.waitForVM) (the longest a call waits for it)")
            statistics.recordFailure(failure)
            log(failure)
            return .failed(failure)
        }
        switch outcome {
        case .retired:
            break
        case .done:
            statistics.record(hook, nanoseconds: elapsed)
        case .failed(let failure):
            statistics.record(hook, nanoseconds: elapsed, failure: failure)
            log(failure)
        }
        return outcome
    }

    private func fail(quarantined hook: PluginHook) -> PluginRuntimeError {
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

    /// Runs `body` on the VM (for the host: unload, releasing references); `nil` when the VM stayed busy
    /// past the time a call may take.
    @discardableResult
    func withVM<R>(_ body: (inout PluginVM) -> R) -> R? {
        gate.withVM(waitingAtMost: timing.stuckAfter) { body(&$0) }
    }

    /// Runs `body` holding the VM and retires this version when it returns true: later calls report
    /// `.retired`. Holding the lock makes the handover atomic with respect to calls. `nil` when the VM
    /// stayed busy past the time a call may take (the version is stuck): nothing ran, nothing changed.
    func retire(when body: (inout PluginVM) -> Bool) -> Bool? {
        gate.withVM(waitingAtMost: timing.stuckAfter) { vm in
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
        guard let busy = gate.busyFor(now: now), busy > timing.stuckAfter.nanoseconds else { return false }
        guard quarantinedFlag.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return false }
        state.interrupt()
        return true
    }

    /// How long the call holding the VM has run, if one does.
    var busyFor: Duration? { gate.busyFor().map { .nanoseconds(Int64(clamping: $0)) } }
}

/// How long a plugin call waits for its VM, and when a running call counts as stuck.
struct PluginTiming: Sendable {
    /// Longest wait for the VM while another call holds it; the call then fails as `busy`.
    var waitForVM: Duration
    /// A call holding the VM longer than this is stuck: the version is quarantined.
    var stuckAfter: Duration
}
