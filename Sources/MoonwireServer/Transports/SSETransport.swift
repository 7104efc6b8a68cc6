import Hummingbird
import MoonwireCore
import NIOCore

/// Delivers a connection's queue as Server-Sent Events (formatted by the stream's `SSEEventFormat`).
///
/// Live events may also reach the channel straight from the hub (`SSEDirectSink`), between this
/// transport's writes. The response writer hands its writes to the event loop on its own schedule, so
/// each write here waits for one turn of the loop before (the direct writes queued so far are out) and
/// after (this write is out before direct writes resume): the stream keeps its order, and the response's
/// end never overtakes an event.
struct SSETransport: Transport {
    var writer: any ResponseBodyWriter
    let format: SSEEventFormat
    let channel: any Channel

    mutating func write(_ items: [OutboundItem]) async throws {
        let buffer = format.batch(items)
        await channel.settle()
        try await writer.write(buffer)
        await channel.settle()
    }

    /// Sends a final `disconnect` event with the reason; the stream then ends.
    mutating func close(_ reason: DisconnectReason) async {
        let buffer = SSEEventFormat.disconnectEvent(reason)
        await channel.settle()
        try? await writer.write(buffer)
        await channel.settle()
    }
}
