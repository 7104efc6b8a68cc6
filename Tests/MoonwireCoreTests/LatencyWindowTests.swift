import MoonwireCore
import Testing

@Suite struct LatencyWindowTests {
    @Test func percentilesCoverTheLastSecondsOnly() {
        let window = LatencyWindow(seconds: 10)
        #expect(window.summary(at: 100).samples == 0)
        for _ in 0..<98 { window.record(nanoseconds: 1_000_000, at: 100) }  // 1 ms
        window.record(nanoseconds: 50_000_000, at: 101)  // 50 ms
        window.record(nanoseconds: 80_000_000, at: 101)  // 80 ms
        let summary = window.summary(at: 101)
        #expect(summary.samples == 100)
        #expect(summary.p50 >= 0.001 && summary.p50 <= 0.00109, "within a bucket of 1 ms: \(summary.p50)")
        #expect(summary.p99 >= 0.05 && summary.p99 <= 0.0545, "\(summary.p99)")
        #expect(summary.max == 0.08)
        // Ten seconds later the first second has left the window; a slot reused for a new second starts empty.
        #expect(window.summary(at: 110).samples == 2)
        window.record(nanoseconds: 2_000_000, at: 110)
        #expect(window.summary(at: 110).samples == 3)
        #expect(window.summary(at: 119).samples == 1)
        #expect(window.summary(at: 120).samples == 0)
    }
}
