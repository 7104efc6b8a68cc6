import Logging
import LuaRuntime
import MoonwireCore
import Synchronization

/// One loaded version of a plugin: its manifest, its Lua state behind a lock, and its counters.
public final class Plugin: Sendable {
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
    private let vm: LockedVM
    private let retiredFlag = Atomic<Bool>(false)

    init(
        name: String, version: String, summary: String? = nil, priority: Int, source: PluginSource, hooks: Set<PluginHook>, eventTypes: [String: Bool],
        config: JSONObject, schema: ConfigSchema, statistics: PluginStatistics, context: PluginContext, vm: PluginVM
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
        self.vm = LockedVM(vm)
    }

    /// The settings schema as JSON (type, default, required, description per key).
    public var settingsSchema: JSONValue { schema.json }

    /// The settings as the API shows them: secret ones masked.
    public var publicConfig: JSONObject { schema.masked(config) }

    /// Whether a newer version (or an unload) replaced this one.
    public var isRetired: Bool { retiredFlag.load(ordering: .acquiring) }

    /// The result of one call.
    enum Outcome {
        /// This version was replaced while the call waited: run it on the current version.
        case retired
        case done([LuaResult])
        case failed(LuaError)
    }

    /// Calls a hook. `arguments` builds the arguments inside the lock (so prepared tables can be reused).
    func call(_ hook: PluginHook, results: Int32 = 1, _ arguments: (inout PluginVM) -> [LuaValue]) -> Outcome {
        call(hook, function: { $0.hooks[hook] }, results: results, arguments)
    }

    /// Calls the function `function` picks from the VM, counting it under `hook`.
    func call(
        _ hook: PluginHook, function: (PluginVM) -> LuaRef?, results: Int32 = 1, _ arguments: (inout PluginVM) -> [LuaValue]
    ) -> Outcome {
        // Timed on the VM, from the arguments' conversion to the results': waiting for the VM is not counted.
        var elapsed: UInt64 = 0
        let outcome: Outcome = vm.withLock { vm in
            if retiredFlag.load(ordering: .acquiring) { return .retired }
            guard let ref = function(vm) else { return .done([]) }
            let start = MonotonicClock.nanoseconds()
            defer { elapsed = MonotonicClock.nanoseconds() - start }
            let args = arguments(&vm)
            switch vm.state.call(ref, args, results: results) {
            case .success(let values): return .done(values)
            case .failure(let error): return .failed(error)
            }
        }
        switch outcome {
        case .retired:
            return outcome
        case .done:
            statistics.record(hook, nanoseconds: elapsed, error: nil)
        case .failed(let error):
            statistics.record(hook, nanoseconds: elapsed, error: error.isLimit ? .limit : .script)
            context.hostIfAlive?.logger.error(
                "plugin hook failed",
                metadata: [
                    "plugin": "\(name)", "version": "\(version)", "hook": "\(hook.rawValue)", "error": "\(error.detailed)",
                ])
        }
        return outcome
    }

    /// Runs `body` on the VM (for the host: unload, releasing references).
    func withVM<R>(_ body: (inout PluginVM) -> R) -> R {
        vm.withLock { body(&$0) }
    }

    /// Runs `body` holding the lock and retires this version when it returns true: later calls report
    /// `.retired`. Holding the lock makes the handover atomic with respect to calls.
    func retire(when body: (inout PluginVM) -> Bool) -> Bool {
        vm.withLock { vm in
            guard body(&vm) else { return false }
            retiredFlag.store(true, ordering: .releasing)
            return true
        }
    }
}

/// A plugin version's VM and the lock that serialises every touch of it.
final class LockedVM: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private var vm: PluginVM

    init(_ vm: PluginVM) { self.vm = vm }

    func withLock<R>(_ body: (inout PluginVM) -> R) -> R {
        lock.withLock { _ in body(&vm) }
    }
}
