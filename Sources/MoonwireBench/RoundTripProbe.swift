import Foundation
import Histogram
import NIOCore

/// A client in a room of its own that sends a message with a `ref` every `interval` and times the hub's
/// `ack`: how long an unrelated room waits while a scenario loads the hub. One message in flight at a
/// time; a round trip still open when the probe stops counts with its time so far.
final class RoundTripProbe: @unchecked Sendable {
    private let subscriber: WebSocketSubscriber
    private let room: String
    private let interval: TimeAmount
    private let lock = NSLock()
    private var histogram = Recorder.makeHistogram()
    private var sentAt: UInt64?
    private var sequence = 0
    private var running = false

    private init(subscriber: WebSocketSubscriber, room: String, interval: TimeAmount) {
        self.subscriber = subscriber
        self.room = room
        self.interval = interval
    }

    /// Connects as `user` to `room` (Moonwire only).
    static func open(load: LoadContext, room: String, user: String, interval: TimeAmount = .milliseconds(50)) async throws -> RoundTripProbe {
        let state = SubscriberState(index: 0, room: 0)
        let subscriber = try await WebSocketSubscriber.connect(
            load: load, loop: load.loop(for: 0), path: "/ws", state: state,
            authFrame: WebSocketSubscriber.moonwireAuthFrame(user: user, rooms: [room])).get()
        let created = RoundTripProbe(subscriber: subscriber, room: room, interval: interval)
        try await subscriber.eventLoop.submit {
            subscriber.onOtherFrame = { bytes in
                if Bytes.find("\"event_type\":\"ack\"", in: bytes) != nil { created.acknowledged() }
            }
        }.get()
        return created
    }

    /// Starts measuring (from a clean histogram).
    func start() {
        lock.withLock {
            histogram = Recorder.makeHistogram()
            running = true
            sentAt = nil
        }
        subscriber.eventLoop.execute { self.sendNext() }
    }

    /// Stops measuring; the round-trip latencies (µs) since `start`.
    func stop() -> LatencySummary {
        lock.withLock {
            running = false
            if let sentAt {
                _ = histogram.record((BenchClock.monotonicNanos() - sentAt) / 1000)
                self.sentAt = nil
            }
            return LatencySummary(histogram)
        }
    }

    func close() { subscriber.close() }

    private func sendNext() {
        let frame: [UInt8]? = lock.withLock {
            guard running, sentAt == nil else { return nil }
            sequence += 1
            sentAt = BenchClock.monotonicNanos()
            return Array(#"{"event_type":"message","room_id":"\#(room)","data":{"message":"probe"},"ref":"probe-\#(sequence)"}"#.utf8)
        }
        if let frame { subscriber.send(frame) }
    }

    private func acknowledged() {
        let again = lock.withLock { () -> Bool in
            guard let sentAt else { return false }
            _ = histogram.record((BenchClock.monotonicNanos() - sentAt) / 1000)
            self.sentAt = nil
            return running
        }
        if again { subscriber.eventLoop.scheduleTask(in: interval) { self.sendNext() } }
    }
}
