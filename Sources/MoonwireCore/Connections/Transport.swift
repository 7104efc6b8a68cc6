import NIOCore

/// What a streaming transport (WebSocket, SSE) provides to deliver a connection's outbound queue.
///
/// The hub never writes to a transport directly: it queues events on the `Connection`, and
/// `Hub.serve(_:over:)` drains the queue into the transport from the connection's own task.
public protocol Transport {
    /// Writes a batch of items and flushes. Throws when the client is gone.
    mutating func write(_ items: [OutboundItem]) async throws
    /// Ends the connection, telling the client why where the transport can.
    mutating func close(_ reason: DisconnectReason) async
}

/// One item of a connection's outbound queue.
public enum OutboundItem: Sendable {
    /// An event, encoded once and shared between recipients.
    case event(EncodedEvent)
    /// Nothing to send for a while: transports that need traffic to stay open (SSE) send a keep-alive.
    case keepAlive
}

/// An event with its wire JSON, encoded once per event rather than once per recipient. The buffer is
/// shared (copy-on-write) by every transport that sends it, so a fan-out copies no bytes.
public final class EncodedEvent: Sendable {
    public let event: Event
    public let json: ByteBuffer

    public init(_ event: Event) {
        self.event = event
        self.json = ByteBuffer(bytes: event.jsonBytes)
    }

    /// Bytes this item holds in a queue.
    var queuedSize: Int { json.readableBytes + 64 }
}

/// A streaming transport that can also take live events at once, from the publisher's thread: while a
/// connection's queue is empty and its socket keeps up, the hub hands events straight to the sink and the
/// connection's own task stays asleep (one task switch less per delivery). Anything else (a socket that is
/// full, replies, closing) goes through the queue and `Transport` as before, in order.
public protocol DirectSink: AnyObject, Sendable {
    /// Whether the sink takes writes now without buffering past its own bound.
    var acceptsDirectWrites: Bool { get }
    /// Writes one event without waiting. Called under the connection's lock, so in delivery order.
    func writeDirect(_ encoded: EncodedEvent)
}
