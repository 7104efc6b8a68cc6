import MoonwireCore
import NIOCore
import Synchronization

/// Collects live events for the WebSockets of one event loop from any thread and writes them in one hop:
/// a fan-out to a thousand connections costs one task on each event loop, not one per connection; each
/// event is framed once for all of them, and each channel is flushed once per hop.
final class EventLoopWriteBatcher: Sendable {
    let eventLoop: any EventLoop
    private let pending = Mutex<(writes: [(WebSocketDirectSink, EncodedEvent)], scheduled: Bool)>(([], false))

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    private static let batchers = Mutex<[ObjectIdentifier: EventLoopWriteBatcher]>([:])

    /// The batcher of `eventLoop` (one per loop, kept for the life of the process).
    static func shared(for eventLoop: any EventLoop) -> EventLoopWriteBatcher {
        batchers.withLock { batchers in
            let key = ObjectIdentifier(eventLoop as AnyObject)
            if let batcher = batchers[key] { return batcher }
            let batcher = EventLoopWriteBatcher(eventLoop: eventLoop)
            batchers[key] = batcher
            return batcher
        }
    }

    /// Queues `encoded` for `sink`; it is written (and flushed) on the event loop soon, after every event
    /// queued before it.
    func write(_ encoded: EncodedEvent, to sink: WebSocketDirectSink) {
        let schedule = pending.withLock { pending -> Bool in
            pending.writes.append((sink, encoded))
            if pending.scheduled { return false }
            pending.scheduled = true
            return true
        }
        if schedule {
            eventLoop.execute { self.drain() }
        }
    }

    private func drain() {
        let writes = pending.withLock { pending -> [(WebSocketDirectSink, EncodedEvent)] in
            pending.scheduled = false
            defer { pending.writes.removeAll(keepingCapacity: true) }
            return pending.writes
        }
        // A fan-out queues one event for many sinks in a row: frame it once.
        var framed: (event: EncodedEvent, frame: ByteBuffer)?
        for (sink, encoded) in writes {
            if framed?.event !== encoded {
                framed = (encoded, Self.textFrame(encoded.json))
            }
            sink.writeOnLoop(framed!.frame)
        }
        var flushed = Set<ObjectIdentifier>()
        for (sink, _) in writes.reversed() where flushed.insert(ObjectIdentifier(sink)).inserted {
            sink.flushOnLoop()
        }
    }

    /// A server-to-client (unmasked) WebSocket text frame holding `payload` (RFC 6455 §5.2).
    static func textFrame(_ payload: ByteBuffer) -> ByteBuffer {
        let length = payload.readableBytes
        var frame = ByteBuffer()
        frame.reserveCapacity(length + 10)
        frame.writeInteger(UInt8(0x81))
        if length < 126 {
            frame.writeInteger(UInt8(length))
        } else if length <= Int(UInt16.max) {
            frame.writeInteger(UInt8(126))
            frame.writeInteger(UInt16(length))
        } else {
            frame.writeInteger(UInt8(127))
            frame.writeInteger(UInt64(length))
        }
        frame.writeImmutableBuffer(payload)
        return frame
    }
}
