import HummingbirdWebSocket
import MoonwireCore
import NIOCore
import NIOWebSocket

/// Delivers a connection's queue as WebSocket text frames; closes with the reason's close code.
struct WebSocketTransport: Transport {
    let outbound: WebSocketOutboundWriter

    mutating func write(_ items: [OutboundItem]) async throws {
        for item in items {
            guard case .event(let encoded) = item else { continue }
            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: encoded.json))))
        }
    }

    mutating func close(_ reason: DisconnectReason) async {
        try? await outbound.close(WebSocketErrorCode(codeNumber: Int(reason.closeCode)), reason: reason.message)
    }
}
