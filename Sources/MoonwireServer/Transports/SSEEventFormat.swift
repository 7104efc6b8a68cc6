import MoonwireCore
import NIOCore

/// How one SSE stream writes events, and where it stands: every event carries `id:` = the stream's cursor
/// (one room: the last event id; several: `room:id` pairs), so `Last-Event-ID` always resumes exactly.
///
/// Shared by the stream's `SSETransport` and its `SSEDirectSink`. The connection's lock protocol keeps
/// them apart: direct writes happen only while the transport's pump waits with nothing queued.
final class SSEEventFormat: @unchecked Sendable {
    let rooms: [String]
    /// Leave out `event:` lines, so a browser's EventSource hands every event to one `message` handler.
    let plain: Bool
    private(set) var cursor: Cursor

    init(rooms: [String], cursor: Cursor, plain: Bool) {
        self.rooms = rooms
        self.cursor = cursor
        self.plain = plain
    }

    /// Whether `encoded` reads the same on every stream of this shape (one room, a stored event: `id:` is
    /// its own id), so it can be formatted once for all of them. Moves the cursor past it if so.
    func advanceIfShared(past encoded: EncodedEvent) -> Bool {
        guard rooms.count == 1, let id = encoded.event.id, let room = encoded.event.roomID, room == rooms[0] else { return false }
        cursor.set(room, id)
        return true
    }

    /// A stored event as every one-room stream writes it.
    static func storedEvent(_ encoded: EncodedEvent, plain: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(encoded.json.readableBytes + 64)
        write(encoded, id: encoded.event.id?.description ?? "", plain: plain, to: &buffer)
        return buffer
    }

    /// Appends `encoded` as one SSE event, moving the cursor past it.
    func append(_ encoded: EncodedEvent, to buffer: inout ByteBuffer) {
        if let id = encoded.event.id, let room = encoded.event.roomID { cursor.set(room, id) }
        Self.write(encoded, id: cursor.encoded(for: rooms), plain: plain, to: &buffer)
    }

    /// Queued items as one buffer: each event, and a comment for each keep-alive. Moves the cursor.
    func batch(_ items: [OutboundItem]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for item in items {
            switch item {
            case .keepAlive: buffer.writeString(": keep-alive\n\n")
            case .event(let encoded): append(encoded, to: &buffer)
            }
        }
        return buffer
    }

    /// `bytes` as one chunk of an HTTP/1.1 chunked body (RFC 9112 §7.1).
    static func chunk(_ bytes: ByteBuffer) -> ByteBuffer {
        var chunk = ByteBuffer()
        chunk.reserveCapacity(bytes.readableBytes + 12)
        chunk.writeString(String(bytes.readableBytes, radix: 16))
        chunk.writeStaticString("\r\n")
        chunk.writeImmutableBuffer(bytes)
        chunk.writeStaticString("\r\n")
        return chunk
    }

    /// The `disconnect` event that ends a stream, with the reason.
    static func disconnectEvent(_ reason: DisconnectReason) -> ByteBuffer {
        let data: JSONValue = ["code": .string(reason.code), "message": .string(reason.message)]
        var buffer = ByteBuffer()
        buffer.writeString("event: disconnect\ndata: ")
        buffer.writeBytes(JSONWriter.bytes(data))
        buffer.writeString("\n\n")
        return buffer
    }

    /// One SSE event: `id:` (unless empty), `event:` (unless plain), `data:` the event's JSON.
    private static func write(_ encoded: EncodedEvent, id: String, plain: Bool, to buffer: inout ByteBuffer) {
        if !id.isEmpty { buffer.writeString("id: \(id)\n") }
        if !plain { buffer.writeString("event: \(encoded.event.type.rawValue)\n") }
        buffer.writeString("data: ")
        buffer.writeImmutableBuffer(encoded.json)
        buffer.writeString("\n\n")
    }
}
