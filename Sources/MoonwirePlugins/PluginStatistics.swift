import CoreMetrics
import Histogram
import MoonwireCore
import Synchronization

/// Per-hook counters of one plugin (kept across its versions): calls, errors, limit hits, time, and the
/// distribution of call times (from the call's start on the plugin's VM to its end: waiting for the VM
/// is not counted).
public final class PluginStatistics: Sendable {
    public struct Counters: Sendable, Equatable {
        public var calls = 0
        public var errors = 0
        public var limitHits = 0
        public var nanoseconds: UInt64 = 0
        /// Median and 99th percentile of the call time, in nanoseconds (0 before the first call).
        public var medianNanoseconds: UInt64 = 0
        public var p99Nanoseconds: UInt64 = 0
    }

    /// One hook's figures; a class so that recording changes it in place (the histogram is large).
    private final class HookRecord {
        var counters = Counters()
        /// Call times in ns, 1 ns to `longestCall`, two significant digits.
        var times = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: PluginStatistics.longestCall, numberOfSignificantValueDigits: .two)
        let calls: Counter
        let errors: Counter
        let limits: Counter
        let time: FloatingPointCounter

        init(calls: Counter, errors: Counter, limits: Counter, time: FloatingPointCounter) {
            self.calls = calls
            self.errors = errors
            self.limits = limits
            self.time = time
        }
    }

    /// The longest call time the histograms tell apart (60 s); longer calls count as this long.
    private static let longestCall: UInt64 = 60_000_000_000

    private let records = Mutex<[PluginHook: HookRecord]>([:])
    private let plugin: String
    private let factory: any MetricsFactory

    init(plugin: String, factory: any MetricsFactory) {
        self.plugin = plugin
        self.factory = factory
    }

    /// Records one call.
    func record(_ hook: PluginHook, nanoseconds: UInt64, error: LuaErrorKind?) {
        let record = records.withLock { records -> HookRecord in
            let record = records[hook] ?? makeRecord(hook, in: &records)
            record.counters.calls += 1
            record.counters.nanoseconds += nanoseconds
            _ = record.times.record(max(1, min(nanoseconds, Self.longestCall)))
            if let error {
                record.counters.errors += 1
                if error == .limit { record.counters.limitHits += 1 }
            }
            return record
        }
        record.calls.increment()
        record.time.increment(by: Double(nanoseconds) / 1e9)
        if let error {
            record.errors.increment()
            if error == .limit { record.limits.increment() }
        }
    }

    private func makeRecord(_ hook: PluginHook, in records: inout [PluginHook: HookRecord]) -> HookRecord {
        let dimensions = [("plugin", plugin), ("hook", hook.rawValue)]
        let record = HookRecord(
            calls: Counter(label: "moonwire_plugin_calls_total", dimensions: dimensions, factory: factory),
            errors: Counter(label: "moonwire_plugin_errors_total", dimensions: dimensions, factory: factory),
            limits: Counter(label: "moonwire_plugin_limit_hits_total", dimensions: dimensions, factory: factory),
            time: FloatingPointCounter(label: "moonwire_plugin_call_seconds_total", dimensions: dimensions, factory: factory))
        records[hook] = record
        return record
    }

    /// A snapshot by hook.
    public var snapshot: [PluginHook: Counters] {
        records.withLock { records in records.mapValues(Self.counters) }
    }

    /// Counters of one hook.
    public func counters(for hook: PluginHook) -> Counters {
        records.withLock { records in records[hook].map(Self.counters) ?? Counters() }
    }

    private static func counters(_ record: HookRecord) -> Counters {
        var counters = record.counters
        if counters.calls > 0 {  // (called under the lock)
            counters.medianNanoseconds = record.times.valueAtPercentile(50)
            counters.p99Nanoseconds = record.times.valueAtPercentile(99)
        }
        return counters
    }
}

/// How a plugin call failed, for counting.
enum LuaErrorKind: Equatable {
    case script
    case limit
}
