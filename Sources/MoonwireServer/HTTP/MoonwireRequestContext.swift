import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of every Moonwire route: Hummingbird's core storage, WebSocket upgrade support,
/// and the peer's address.
public struct MoonwireRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<MoonwireRequestContext>
    /// `ip:port` of the client, when known.
    public let remoteAddress: String?
    /// The client's channel, to drop it when a close cannot complete.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.channel = source.channel
        self.remoteAddress = source.channel.remoteAddress?.ipAndPort
    }
}
