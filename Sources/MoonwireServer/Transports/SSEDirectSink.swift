import HTTPTypes
import MoonwireCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Lets the hub write live events onto an SSE response directly (see `DirectSink`), batched per event
/// loop, while the channel is writable; once it is not, events wait in the connection's queue.
///
/// Events are formatted at once (the stream's cursor moves in delivery order) and handed to the HTTP/1
/// response encoder as body parts (it adds the chunk framing), after everything the response's own writer
/// wrote before.
final class SSEDirectSink: DirectSink, LoopWriteSink {
    let channel: any Channel
    let format: SSEEventFormat
    private let batcher: EventLoopWriteBatcher
    /// The handler right above the HTTP/1 encoder.
    private let codec: PipelineContext<HTTP1ToHTTPServerCodec>

    init(channel: any Channel, format: SSEEventFormat) {
        self.channel = channel
        self.format = format
        self.batcher = EventLoopWriteBatcher.shared(for: channel.eventLoop)
        self.codec = PipelineContext(of: HTTP1ToHTTPServerCodec.self, in: channel)
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

    /// Writes a body part (on the event loop): straight to the HTTP/1 encoder when the HTTP-types codec is
    /// in the pipeline, else through the whole pipeline as the response's writer does.
    func writeOnLoop(_ bytes: ByteBuffer) {
        if let context = codec.context {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(bytes))), promise: nil)
        } else {
            channel.write(HTTPResponsePart.body(bytes), promise: nil)
        }
    }

    func flushOnLoop() {
        codec.flush()
    }
}
