/// How a client is connected.
public enum TransportKind: String, Sendable, CaseIterable, Hashable {
    case webSocket = "websocket"
    case sse = "sse"
    case longPoll = "longpoll"
    /// Server-side callers of the HTTP API (`/api/publish`, `/trigger`, `/message`).
    case http = "http"
    /// A plugin publishing through `hub.publish`.
    case plugin = "plugin"

    /// Transports that hold connections.
    public static let connected: [TransportKind] = [.webSocket, .sse, .longPoll]
}
