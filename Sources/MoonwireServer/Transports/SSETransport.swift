import Hummingbird
import MoonwireCore
import NIOCore

/// Delivers a connection's queue as Server-Sent Events. Every event carries `id:` = the stream's cursor
/// (one room: the last event id; several: `room:id` pairs), so `Last-Event-ID` always resumes exactly.
struct SSETransport: Transport {
    var writer: any ResponseBodyWriter
    let rooms: [String]
    var cursor: Cursor
    /// Leave out `event:` lines, so a browser's EventSource hands every event to one `message` handler.
    var plain = false

    mutating func write(_ items: [OutboundItem]) async throws {
        var buffer = ByteBuffer()
        for item in items {
            switch item {
            case .keepAlive:
                buffer.writeString(": keep-alive\n\n")
            case .event(let encoded):
                let event = encoded.event
                if let id = event.id, let room = event.roomID { cursor.set(room, id) }
                let id = cursor.encoded(for: rooms)
                if !id.isEmpty { buffer.writeString("id: \(id)\n") }
                if !plain { buffer.writeString("event: \(event.type.rawValue)\n") }
                buffer.writeString("data: ")
                buffer.writeImmutableBuffer(encoded.json)
                buffer.writeString("\n\n")
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
