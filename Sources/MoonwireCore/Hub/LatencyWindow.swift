import Foundation
import Synchronization

/// Recent publish latencies (from an event's timestamp to its fan-out), kept per second for the last
/// `seconds` seconds in logarithmic buckets (8 per doubling, so a percentile is within 9 % of the truth).
public final class LatencyWindow: Sendable {
    /// Percentiles over the window.
    public struct Summary: Sendable, Equatable {
        public var samples: Int
        public var p50: Double
        public var p99: Double
        public var max: Double

        /// `{samples, p50_ms, p99_ms, max_ms}`, as `/api/stats` and `hub.stats()` show it.
        public var jsonObject: JSONObject {
            func milliseconds(_ seconds: Double) -> JSONValue { .double((seconds * 1e6).rounded() / 1e3) }
            return ["samples": .int(Int64(samples)), "p50_ms": milliseconds(p50), "p99_ms": milliseconds(p99), "max_ms": milliseconds(max)]
        }
    }

    /// The summary of the window that ends now (wall clock).
    public func summaryNow() -> Summary {
        summary(at: Int64(Timestamp.now().seconds))
    }

    private struct Slot {
        var second: Int64 = -1
        var counts = [UInt32](repeating: 0, count: LatencyWindow.bucketCount)
        var maxNanoseconds: Int64 = 0
    }

    static let bucketsPerDoubling = 8
    /// From 1 µs (bucket 0) to about 2^28 µs (4.5 minutes); longer ones land in the last bucket.
    static let bucketCount = 28 * bucketsPerDoubling
    private let slots: Mutex<[Slot]>
    private let seconds: Int

    public init(seconds: Int = 10) {
        self.seconds = Swift.max(1, seconds)
        slots = Mutex([Slot](repeating: Slot(), count: self.seconds))
    }

    /// Records one latency observed at `second` (any monotonic count of seconds).
    public func record(nanoseconds: Int64, at second: Int64) {
        let bucket = Self.bucket(for: nanoseconds)
        let index = Int(second % Int64(seconds))
        slots.withLock { slots in
            if slots[index].second != second { slots[index] = Slot(second: second) }
            slots[index].counts[bucket] &+= 1
            slots[index].maxNanoseconds = Swift.max(slots[index].maxNanoseconds, nanoseconds)
        }
    }

    /// Percentiles (in seconds) of what was recorded in the window that ends at `second`.
    public func summary(at second: Int64) -> Summary {
        var counts = [Int](repeating: 0, count: Self.bucketCount)
        var maxNanoseconds: Int64 = 0
        slots.withLock { slots in
            for slot in slots where slot.second > second - Int64(seconds) && slot.second <= second {
                for (bucket, count) in slot.counts.enumerated() where count > 0 { counts[bucket] += Int(count) }
                maxNanoseconds = Swift.max(maxNanoseconds, slot.maxNanoseconds)
            }
        }
        let total = counts.reduce(0, +)
        guard total > 0 else { return Summary(samples: 0, p50: 0, p99: 0, max: 0) }
        func percentile(_ fraction: Double) -> Double {
            let rank = Swift.max(1, Int((Double(total) * fraction).rounded(.up)))
            var seen = 0
            for (bucket, count) in counts.enumerated() {
                seen += count
                if seen >= rank { return Swift.min(Self.upperBound(of: bucket), Double(maxNanoseconds) / 1e9) }
            }
            return Double(maxNanoseconds) / 1e9
        }
        return Summary(samples: total, p50: percentile(0.5), p99: percentile(0.99), max: Double(maxNanoseconds) / 1e9)
    }

    static func bucket(for nanoseconds: Int64) -> Int {
        let micros = Double(Swift.max(nanoseconds, 1_000)) / 1_000
        let index = Int((log2(micros) * Double(bucketsPerDoubling)).rounded(.down))
        return Swift.min(Swift.max(index, 0), bucketCount - 1)
    }

    /// The largest latency (in seconds) bucket `index` holds.
    static func upperBound(of index: Int) -> Double {
        pow(2, Double(index + 1) / Double(bucketsPerDoubling)) / 1e6
    }
}
