import MoonwireCore
import NIOCore
import Synchronization

/// Collects live events for the connections of one event loop from any thread and writes them in one hop:
/// a fan-out to a thousand connections costs one task on each event loop, not one per connection; a
/// WebSocket frame is built once per event for all of them, and each channel is flushed once per hop.
final class EventLoopWriteBatcher: Sendable {
    /// What one write carries: an event to frame for a WebSocket, a stored event for a one-room SSE
    /// stream (the same bytes for every such stream; `chunked`: as an HTTP/1.1 chunk), or bytes already
    /// formatted.
    enum Payload {
        case webSocketText(EncodedEvent)
        case sseStoredEvent(EncodedEvent, plain: Bool, chunked: Bool)
        case bytes(ByteBuffer)
    }

    let eventLoop: any EventLoop
    private let pending = Mutex<(writes: [(any LoopWriteSink, Payload)], scheduled: Bool)>(([], false))

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

    /// Queues `payload` for `sink`; it is written (and flushed) on the event loop soon, after everything
    /// queued before it.
    func write(_ payload: Payload, to sink: any LoopWriteSink) {
        let schedule = pending.withLock { pending -> Bool in
            pending.writes.append((sink, payload))
            if pending.scheduled { return false }
            pending.scheduled = true
            return true
        }
        if schedule {
            eventLoop.execute { self.drain() }
        }
    }

    private func drain() {
        let writes = pending.withLock { pending -> [(any LoopWriteSink, Payload)] in
            pending.scheduled = false
            defer { pending.writes.removeAll(keepingCapacity: true) }
            return pending.writes
        }
        // A fan-out queues one event for many sinks in a row: frame it once.
        var framed: (event: EncodedEvent, frame: ByteBuffer)?
        var formatted: (event: EncodedEvent, plain: Bool, chunked: Bool, bytes: ByteBuffer)?
        for (sink, payload) in writes {
            switch payload {
            case .webSocketText(let encoded):
                if framed?.event !== encoded {
                    framed = (encoded, Self.textFrame(encoded.json))
                }
                sink.writeOnLoop(framed!.frame)
            case .sseStoredEvent(let encoded, let plain, let chunked):
                if formatted?.event !== encoded || formatted?.plain != plain || formatted?.chunked != chunked {
                    let event = SSEEventFormat.storedEvent(encoded, plain: plain)
                    formatted = (encoded, plain, chunked, chunked ? SSEEventFormat.chunk(event) : event)
                }
                sink.writeOnLoop(formatted!.bytes)
            case .bytes(let bytes):
                sink.writeOnLoop(bytes)
            }
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

/// A connection's end of an `EventLoopWriteBatcher`: writes and flushes on its event loop.
protocol LoopWriteSink: AnyObject, Sendable {
    func writeOnLoop(_ bytes: ByteBuffer)
    func flushOnLoop()
}
