import MoonwireCore
import NIOCore
import NIOWebSocket

/// Lets the hub write live events onto a WebSocket's channel directly (see `DirectSink`), batched per
/// event loop, while the channel is writable; once it is not, events wait in the connection's queue.
///
/// Frames are written below the pipeline's frame encoder, already framed (once per event, by the batcher).
final class WebSocketDirectSink: DirectSink, LoopWriteSink {
    let channel: any Channel
    private let batcher: EventLoopWriteBatcher
    private let encoder: PipelineContext<WebSocketFrameEncoder>

    init(channel: any Channel) {
        self.channel = channel
        self.batcher = EventLoopWriteBatcher.shared(for: channel.eventLoop)
        self.encoder = PipelineContext(of: WebSocketFrameEncoder.self, in: channel)
    }

    var acceptsDirectWrites: Bool { channel.isWritable }

    func writeDirect(_ encoded: EncodedEvent) {
        batcher.write(.webSocketText(encoded), to: self)
    }

    /// Writes a ready frame (on the event loop), past the encoder; falls back to a frame through the
    /// whole pipeline if the encoder is not found.
    func writeOnLoop(_ frame: ByteBuffer) {
        if let context = encoder.context {
            context.write(NIOAny(frame), promise: nil)
        } else {
            var payload = frame
            payload.moveReaderIndex(forwardBy: Self.headerLength(frame))
            channel.write(WebSocketFrame(fin: true, opcode: .text, data: payload), promise: nil)
        }
    }

    func flushOnLoop() {
        encoder.flush()
    }

    private static func headerLength(_ frame: ByteBuffer) -> Int {
        switch frame.getInteger(at: frame.readerIndex + 1, as: UInt8.self) ?? 0 {
        case 126: 4
        case 127: 10
        default: 2
        }
    }
}
