import Histogram
import NIOCore
import Synchronization

/// What the clients of one event loop received: latencies (HdrHistogram, microseconds), first deliveries,
/// duplicates and errors. Touched only on its event loop, except `progress`, which publishers read from
/// anywhere to pace a full-speed run.
final class Recorder: @unchecked Sendable {
    let loop: EventLoop
    private(set) var histogram = Recorder.makeHistogram()
    private(set) var received = 0
    private(set) var duplicates = 0
    private(set) var errors = ErrorTally()
    /// Realtime (µs) of the latest first delivery.
    private(set) var lastReceiptMicros: UInt64 = 0
    /// Long-poll answers received (every answer, with or without events).
    private(set) var pollAnswers = 0
    /// First deliveries, readable from any thread.
    let progress = Atomic<Int>(0)
    /// Connections of this loop that ended while they should have stayed open.
    let unexpectedCloses = Atomic<Int>(0)

    init(loop: EventLoop) {
        self.loop = loop
    }

    static func makeHistogram() -> Histogram<UInt64> {
        // 1 µs to 10 minutes at three significant digits.
        var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }

    /// Records one receipt of event `seq`, stamped `micros`, by `subscriber`, at `now` (realtime µs).
    @inline(__always)
    func record(seq: UInt64, micros: UInt64, now: UInt64, subscriber: SubscriberState) {
        if subscriber.seen.insert(seq) {
            received += 1
            progress.wrappingAdd(1, ordering: .relaxed)
            _ = histogram.record(now > micros ? now - micros : 0)
            lastReceiptMicros = now
        } else {
            duplicates += 1
        }
    }

    /// Counts one long-poll answer.
    func countPollAnswer() {
        pollAnswers += 1
    }

    func error(_ kind: String, _ message: @autoclosure () -> String = "") {
        errors.add(kind, message())
    }

    /// Forgets everything (a new phase on the same connections).
    func reset() {
        histogram = Recorder.makeHistogram()
        received = 0
        duplicates = 0
        errors = ErrorTally()
        lastReceiptMicros = 0
        pollAnswers = 0
        progress.store(0, ordering: .relaxed)
    }

    struct Snapshot {
        var histogram: Histogram<UInt64>
        var received: Int
        var duplicates: Int
        var errors: ErrorTally
        var lastReceiptMicros: UInt64
        var pollAnswers = 0
    }

    func snapshot() -> Snapshot {
        Snapshot(
            histogram: histogram, received: received, duplicates: duplicates, errors: errors, lastReceiptMicros: lastReceiptMicros,
            pollAnswers: pollAnswers)
    }
}

/// One subscriber's bookkeeping: which events it got. Lives on its connection's event loop.
final class SubscriberState: @unchecked Sendable {
    let index: Int
    /// The room it follows (an index into the run's room names).
    let room: Int
    var seen = SeenSet()

    init(index: Int, room: Int) {
        self.index = index
        self.room = room
    }
}
