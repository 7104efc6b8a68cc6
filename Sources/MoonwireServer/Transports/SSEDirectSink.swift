import HTTPTypes
import MoonwireCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Lets the hub write live events onto an SSE response directly (see `DirectSink`), batched per event
/// loop, while the channel is writable; once it is not, events wait in the connection's queue.
///
/// Events are formatted at once (the stream's cursor moves in delivery order). A stream Hummingbird
/// serves gets them as body parts at its `HTTP1ToHTTPServerCodec` (the HTTP/1 encoder frames each chunk);
/// a stream the `TransportRouter` serves gets them as bytes written right below the HTTP/1 encoder,
/// chunk-framed here, once per event for all one-room streams of an event loop.
final class SSEDirectSink: DirectSink, LoopWriteSink {
    /// Where the events enter the pipeline.
    enum Output: Sendable {
        /// Body parts from Hummingbird's codec.
        case hummingbird(PipelineContext<HTTP1ToHTTPServerCodec>)
        /// Bytes below the HTTP/1 encoder, as chunks when the response is chunked.
        case belowEncoder(PipelineContext<HTTPResponseEncoder>, chunked: Bool)
    }

    let channel: any Channel
    let format: SSEEventFormat
    private let batcher: EventLoopWriteBatcher
    private let output: Output

    init(channel: any Channel, format: SSEEventFormat, output: Output) {
        self.channel = channel
        self.format = format
        self.batcher = EventLoopWriteBatcher.shared(for: channel.eventLoop)
        self.output = output
    }

    /// Events go out as chunks framed here.
    private var chunked: Bool {
        if case .belowEncoder(_, let chunked) = output { return chunked }
        return false
    }

    var acceptsDirectWrites: Bool { channel.isWritable }

    func writeDirect(_ encoded: EncodedEvent) {
        if format.advanceIfShared(past: encoded) {
            batcher.write(.sseStoredEvent(encoded, plain: format.plain, chunked: chunked), to: self)
            return
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(encoded.json.readableBytes + 64)
        format.append(encoded, to: &buffer)
        batcher.write(.bytes(chunked ? SSEEventFormat.chunk(buffer) : buffer), to: self)
    }

    /// Writes an event (on the event loop) where this stream's events enter the pipeline; nowhere once
    /// that handler has left it (the stream is over), except for Hummingbird, whose response writer writes
    /// through the whole pipeline.
    func writeOnLoop(_ bytes: ByteBuffer) {
        switch output {
        case .hummingbird(let codec):
            if let context = codec.context {
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(bytes))), promise: nil)
            } else {
                channel.write(HTTPResponsePart.body(bytes), promise: nil)
            }
        case .belowEncoder(let encoder, _):
            encoder.context?.write(NIOAny(IOData.byteBuffer(bytes)), promise: nil)
        }
    }

    func flushOnLoop() {
        switch output {
        case .hummingbird(let codec): codec.flush()
        case .belowEncoder(let encoder, _): encoder.flush()
        }
    }
}
