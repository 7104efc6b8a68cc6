import CoreMetrics
import MoonwireCore
import Synchronization

/// Per-hook counters of one plugin (kept across its versions): calls, errors, limit hits and time.
public final class PluginStatistics: Sendable {
    public struct Counters: Sendable, Equatable {
        public var calls = 0
        public var errors = 0
        public var limitHits = 0
        public var nanoseconds: UInt64 = 0
    }

    private let counters = Mutex<[PluginHook: Counters]>([:])
    private let metrics: Mutex<[PluginHook: (calls: Counter, errors: Counter, limits: Counter, time: FloatingPointCounter)]>
    private let plugin: String
    private let factory: any MetricsFactory

    init(plugin: String, factory: any MetricsFactory) {
        self.plugin = plugin
        self.factory = factory
        self.metrics = Mutex([:])
    }

    /// Records one call.
    func record(_ hook: PluginHook, nanoseconds: UInt64, error: LuaErrorKind?) {
        counters.withLock { counters in
            var c = counters[hook] ?? Counters()
            c.calls += 1
            c.nanoseconds += nanoseconds
            if let error {
                c.errors += 1
                if error == .limit { c.limitHits += 1 }
            }
            counters[hook] = c
        }
        let instruments = metrics.withLock { metrics in
            if let existing = metrics[hook] { return existing }
            let dimensions = [("plugin", plugin), ("hook", hook.rawValue)]
            let created = (
                Counter(label: "moonwire_plugin_calls_total", dimensions: dimensions, factory: factory),
                Counter(label: "moonwire_plugin_errors_total", dimensions: dimensions, factory: factory),
                Counter(label: "moonwire_plugin_limit_hits_total", dimensions: dimensions, factory: factory),
                FloatingPointCounter(label: "moonwire_plugin_call_seconds_total", dimensions: dimensions, factory: factory)
            )
            metrics[hook] = created
            return created
        }
        instruments.calls.increment()
        instruments.time.increment(by: Double(nanoseconds) / 1e9)
        if let error {
            instruments.errors.increment()
            if error == .limit { instruments.limits.increment() }
        }
    }

    /// A snapshot by hook.
    public var snapshot: [PluginHook: Counters] { counters.withLock { $0 } }

    /// Counters of one hook.
    public func counters(for hook: PluginHook) -> Counters { counters.withLock { $0[hook] ?? Counters() } }
}

/// How a plugin call failed, for counting.
enum LuaErrorKind: Equatable {
    case script
    case limit
}
