import HTTPTypes
import MoonwireCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Lets the hub write live events onto an SSE response directly (see `DirectSink`), batched per event
/// loop, while the channel is writable; once it is not, events wait in the connection's queue.
///
/// Events are formatted at once (the stream's cursor moves in delivery order) and handed as body parts
/// (the HTTP/1 encoder adds the chunk framing) to the pipeline at the handler that writes the response:
/// Hummingbird's `HTTP1ToHTTPServerCodec`, or the `TransportRouter` for a stream it serves.
final class SSEDirectSink<Writer: ChannelHandler>: DirectSink, LoopWriteSink {
    let channel: any Channel
    let format: SSEEventFormat
    private let batcher: EventLoopWriteBatcher
    /// The handler whose context the response's parts are written from.
    private let codec: PipelineContext<Writer>

    init(channel: any Channel, format: SSEEventFormat) {
        self.channel = channel
        self.format = format
        self.batcher = EventLoopWriteBatcher.shared(for: channel.eventLoop)
        self.codec = PipelineContext(of: Writer.self, in: channel)
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

    /// Writes a body part (on the event loop), from the writing handler's context; without it (it left the
    /// pipeline), through the whole pipeline as Hummingbird's response writer does.
    func writeOnLoop(_ bytes: ByteBuffer) {
        if let context = codec.context {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(bytes))), promise: nil)
        } else if Writer.self == HTTP1ToHTTPServerCodec.self {
            channel.write(HTTPResponsePart.body(bytes), promise: nil)
        }
    }

    func flushOnLoop() {
        codec.flush()
    }
}
