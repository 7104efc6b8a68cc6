import HTTPTypes
import MoonwireCore
import NIOCore
import NIOHTTPTypes

/// Lets the hub write live events onto an SSE response directly (see `DirectSink`), batched per event
/// loop, while the channel is writable; once it is not, events wait in the connection's queue.
///
/// Events are formatted at once (the stream's cursor moves in delivery order) and written as body parts
/// through the pipeline, as the response's own writer does, after everything it wrote before.
final class SSEDirectSink: DirectSink, LoopWriteSink {
    let channel: any Channel
    let format: SSEEventFormat
    private let batcher: EventLoopWriteBatcher

    init(channel: any Channel, format: SSEEventFormat) {
        self.channel = channel
        self.format = format
        self.batcher = EventLoopWriteBatcher.shared(for: channel.eventLoop)
    }

    var acceptsDirectWrites: Bool { channel.isWritable }

    func writeDirect(_ encoded: EncodedEvent) {
        if format.advanceIfShared(past: encoded) {
            batcher.write(.sseStoredEvent(encoded, plain: format.plain), to: self)
            return
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(encoded.json.readableBytes + 64)
        format.append(encoded, to: &buffer)
        batcher.write(.bytes(buffer), to: self)
    }

    func writeOnLoop(_ bytes: ByteBuffer) {
        channel.write(HTTPResponsePart.body(bytes), promise: nil)
    }

    func flushOnLoop() {
        channel.flush()
    }
}
