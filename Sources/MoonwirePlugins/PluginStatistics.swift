import CoreMetrics
import Histogram
import MoonwireCore
import Synchronization

/// Per-hook counters of one plugin (kept across its versions): calls, failures by reason, time, and the
/// distribution of call times (from the call's start on the plugin's VM to its end: waiting for the VM
/// is not counted); the last failure; and what the plugin's publishes lost.
public final class PluginStatistics: Sendable {
    public struct Counters: Sendable, Equatable {
        public var calls = 0
        /// Failed calls, whatever the reason.
        public var errors = 0
        /// Failed calls stopped by the memory, CPU or time limit.
        public var limitHits = 0
        /// Failed calls by reason.
        public var failures: [PluginFailureReason: Int] = [:]
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
        var failureCounters: [PluginFailureReason: Counter] = [:]

        init(calls: Counter, errors: Counter, limits: Counter, time: FloatingPointCounter) {
            self.calls = calls
            self.errors = errors
            self.limits = limits
            self.time = time
        }
    }

    private struct State {
        var records: [PluginHook: HookRecord] = [:]
        var lastFailure: PluginRuntimeError?
        /// When each (hook, reason) was last logged, and how many of its failures went unlogged since.
        var logged: [String: (at: UInt64, suppressed: Int)] = [:]
        var droppedPublishes: [PublishDropReason: Int] = [:]
        var dropCounters: [PublishDropReason: Counter] = [:]
        var quarantines = 0
    }

    /// The longest call time the histograms tell apart (60 s); longer calls count as this long.
    private static let longestCall: UInt64 = 60_000_000_000
    /// A hook's failures of one reason are logged at most once per this many nanoseconds (1 s).
    static let logInterval: UInt64 = 1_000_000_000

    private let state = Mutex(State())
    private let plugin: String
    private let factory: any MetricsFactory

    init(plugin: String, factory: any MetricsFactory) {
        self.plugin = plugin
        self.factory = factory
    }

    /// Records one call that ran on the VM (a failure with `failure`).
    func record(_ hook: PluginHook, nanoseconds: UInt64, failure: PluginRuntimeError? = nil) {
        let (record, failureCounter) = state.withLock { state -> (HookRecord, Counter?) in
            let record = state.records[hook] ?? makeRecord(hook, in: &state.records)
            record.counters.calls += 1
            record.counters.nanoseconds += nanoseconds
            _ = record.times.record(max(1, min(nanoseconds, Self.longestCall)))
            guard let failure else { return (record, nil) }
            return (record, countFailure(failure, in: record, state: &state))
        }
        record.calls.increment()
        record.time.increment(by: Double(nanoseconds) / 1e9)
        if let failure { incrementFailureMetrics(record, failure.reason, failureCounter) }
    }

    /// Records a failure of a call that never ran on the VM (busy, quarantined) or whose result was refused
    /// after it ran (a bad return value: the call itself was already recorded).
    func recordFailure(_ failure: PluginRuntimeError) {
        let (record, failureCounter) = state.withLock { state -> (HookRecord, Counter?) in
            let record = state.records[failure.hook] ?? makeRecord(failure.hook, in: &state.records)
            return (record, countFailure(failure, in: record, state: &state))
        }
        incrementFailureMetrics(record, failure.reason, failureCounter)
    }

    private func countFailure(_ failure: PluginRuntimeError, in record: HookRecord, state: inout State) -> Counter {
        record.counters.errors += 1
        if failure.reason.isLimit { record.counters.limitHits += 1 }
        record.counters.failures[failure.reason, default: 0] += 1
        state.lastFailure = failure
        if let counter = record.failureCounters[failure.reason] { return counter }
        let counter = Counter(
            label: "moonwire_plugin_failures_total",
            dimensions: [("plugin", plugin), ("hook", failure.hook.rawValue), ("reason", failure.reason.rawValue)], factory: factory)
        record.failureCounters[failure.reason] = counter
        return counter
    }

    private func incrementFailureMetrics(_ record: HookRecord, _ reason: PluginFailureReason, _ counter: Counter?) {
        record.errors.increment()
        if reason.isLimit { record.limits.increment() }
        counter?.increment()
    }

    /// Whether a failure of `hook` for `reason` should be logged now, and how many such failures were not
    /// logged since the last one (a plugin failing on every delivery must not flood the log).
    func shouldLog(_ hook: PluginHook, _ reason: PluginFailureReason, now: UInt64 = MonotonicClock.nanoseconds()) -> (log: Bool, suppressed: Int) {
        shouldLog(hook.rawValue + "/" + reason.rawValue, now: now)
    }

    /// Whether a dropped publish of `reason` should be logged now (see the other `shouldLog`).
    func shouldLog(_ reason: PublishDropReason, now: UInt64 = MonotonicClock.nanoseconds()) -> (log: Bool, suppressed: Int) {
        shouldLog("publish/" + reason.rawValue, now: now)
    }

    private func shouldLog(_ key: String, now: UInt64) -> (log: Bool, suppressed: Int) {
        state.withLock { state in
            if let last = state.logged[key], now &- last.at < Self.logInterval {
                state.logged[key]?.suppressed += 1
                return (false, 0)
            }
            let suppressed = state.logged[key]?.suppressed ?? 0
            state.logged[key] = (now, 0)
            return (true, suppressed)
        }
    }

    /// Counts a `hub.publish` the hub dropped.
    func recordDroppedPublish(_ reason: PublishDropReason) {
        let counter = state.withLock { state -> Counter in
            state.droppedPublishes[reason, default: 0] += 1
            if let counter = state.dropCounters[reason] { return counter }
            let counter = Counter(
                label: "moonwire_plugin_publishes_dropped_total", dimensions: [("plugin", plugin), ("reason", reason.rawValue)], factory: factory)
            state.dropCounters[reason] = counter
            return counter
        }
        counter.increment()
    }

    /// Counts a version quarantined for a call stuck past its deadline.
    func recordQuarantine() {
        state.withLock { $0.quarantines += 1 }
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
        state.withLock { state in state.records.mapValues(Self.counters) }
    }

    /// Counters of one hook.
    public func counters(for hook: PluginHook) -> Counters {
        state.withLock { state in state.records[hook].map(Self.counters) ?? Counters() }
    }

    /// The plugin's last failed call (any hook, any version), if any.
    public var lastFailure: PluginRuntimeError? { state.withLock { $0.lastFailure } }

    /// `hub.publish` calls the hub dropped, by reason.
    public var droppedPublishes: [PublishDropReason: Int] { state.withLock { $0.droppedPublishes } }

    /// How many versions of the plugin were quarantined.
    public var quarantines: Int { state.withLock { $0.quarantines } }

    private static func counters(_ record: HookRecord) -> Counters {
        var counters = record.counters
        if counters.calls > 0 {  // (called under the lock)
            counters.medianNanoseconds = record.times.valueAtPercentile(50)
            counters.p99Nanoseconds = record.times.valueAtPercentile(99)
        }
        return counters
    }
}
