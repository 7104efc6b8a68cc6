import Hummingbird
import MoonwireCore
import NIOCore

/// Delivers a connection's queue as Server-Sent Events (formatted by the stream's `SSEEventFormat`).
struct SSETransport: Transport {
    var writer: any ResponseBodyWriter
    let format: SSEEventFormat

    mutating func write(_ items: [OutboundItem]) async throws {
        var buffer = ByteBuffer()
        for item in items {
            switch item {
            case .keepAlive:
                buffer.writeString(": keep-alive\n\n")
            case .event(let encoded):
                format.append(encoded, to: &buffer)
            }
        }
        try await writer.write(buffer)
    }

    /// Sends a final `disconnect` event with the reason; the stream then ends.
    mutating func close(_ reason: DisconnectReason) async {
        let data: JSONValue = ["code": .string(reason.code), "message": .string(reason.message)]
        var buffer = ByteBuffer()
        buffer.writeString("event: disconnect\ndata: ")
        buffer.writeBytes(JSONWriter.bytes(data))
        buffer.writeString("\n\n")
        try? await writer.write(buffer)
    }
}
