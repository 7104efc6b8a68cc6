import NIOCore

/// Refuses WebSocket frames a client sent unmasked (RFC 6455 §5.1: a client masks every frame). Sits where
/// the upgraded connection's raw bytes pass, before the frame decoder, and reads only frame headers. On an
/// unmasked frame it drops the rest of the input and reports `UnmaskedFrame` to the WebSocket handler,
/// which closes with 1002.
final class WebSocketMaskCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The error the WebSocket's inbound stream ends with.
    struct UnmaskedFrame: Error, CustomStringConvertible {
        var description: String { "unmasked client frame" }
    }

    /// The current frame's header bytes seen so far (at most 14).
    private var header: [UInt8] = []
    /// Payload bytes of the current frame still to pass.
    private var payloadLeft: UInt64 = 0
    private var refused = false

    init() {
        header.reserveCapacity(14)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let buffer = Self.unwrapInboundIn(data)
        if scan(buffer.readableBytesView) {
            context.fireChannelRead(data)
        } else {
            refused = true
            context.fireErrorCaught(UnmaskedFrame())
            // Frames sent before the upgrade finished arrive while the WebSocket handler is not in the
            // pipeline yet: tell it again once the upgrade has run (a repeat is ignored).
            context.eventLoop.assumeIsolated().execute { context.fireErrorCaught(UnmaskedFrame()) }
        }
    }

    /// Walks the frame headers in `bytes`; false at the first unmasked frame.
    private func scan(_ bytes: ByteBufferView) -> Bool {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if payloadLeft > 0 {
                let skip = min(UInt64(bytes.endIndex - index), payloadLeft)
                index += Int(skip)
                payloadLeft -= skip
                continue
            }
            header.append(bytes[index])
            index += 1
            guard header.count >= 2 else { continue }
            guard header[1] & 0x80 != 0 else { return false }
            let lengthBytes = switch header[1] & 0x7F {
            case 126: 2
            case 127: 8
            default: 0
            }
            guard header.count == 2 + lengthBytes + 4 else { continue }
            payloadLeft = lengthBytes == 0 ? UInt64(header[1] & 0x7F) : header[2..<(2 + lengthBytes)].reduce(0) { $0 << 8 | UInt64($1) }
            header.removeAll(keepingCapacity: true)
        }
        return true
    }
}
