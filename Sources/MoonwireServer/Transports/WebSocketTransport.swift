import HummingbirdWebSocket
import MoonwireCore
import NIOCore
import NIOWebSocket

/// Delivers a connection's queue as WebSocket text frames; closes with the reason's close code.
///
/// A batch is written straight onto the connection's channel in one event-loop hop with one flush. When the
/// channel is no longer writable after it, the write is awaited: the socket's backpressure holds the pump
/// (and the connection's bounded queue fills) instead of piling frames up in memory. Each frame shares the
/// event's encoded buffer: no copy per recipient.
struct WebSocketTransport: Transport {
    let outbound: WebSocketOutboundWriter
    let channel: any Channel

    mutating func write(_ items: [OutboundItem]) async throws {
        var frames: [WebSocketFrame] = []
        frames.reserveCapacity(items.count)
        for item in items {
            if case .event(let encoded) = item { frames.append(WebSocketFrame(fin: true, opcode: .text, data: encoded.json)) }
        }
        guard let last = frames.last else { return }
        let channel = self.channel
        let written = channel.eventLoop.makePromise(of: Void.self)
        let batch = frames
        channel.eventLoop.execute {
            for frame in batch.dropLast() { channel.write(frame, promise: nil) }
            // While the socket keeps up, the pump goes on at once; once it does not, it waits for this
            // batch to be written, so the connection's bounded queue (not memory) takes the backlog.
            if channel.isWritable {
                channel.writeAndFlush(last, promise: nil)
                written.succeed()
            } else {
                channel.writeAndFlush(last, promise: written)
            }
        }
        try await written.futureResult.get()
    }

    mutating func close(_ reason: DisconnectReason) async {
        // The close frame goes through the WebSocket writer: let the live events queued for this event loop
        // go out first (`WebSocketDirectSink`).
        await channel.settle()
        await outbound.close(reason)
    }
}
