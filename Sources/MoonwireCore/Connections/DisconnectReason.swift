/// Why a connection ended. Each reason has a stable code, and a WebSocket close code.
public struct DisconnectReason: Sendable, Hashable, CustomStringConvertible {
    /// Stable name, used in logs, metrics and the final frame a client gets.
    public let code: String
    /// Human-readable explanation sent to the client.
    public let message: String
    /// WebSocket close code (RFC 6455 §7.4; 4000–4999 are Moonwire's own).
    public let closeCode: UInt16

    public init(code: String, message: String, closeCode: UInt16) {
        self.code = code
        self.message = message
        self.closeCode = closeCode
    }

    public var description: String { "\(code) (\(message))" }

    /// The client closed the connection.
    public static let clientClosed = DisconnectReason(code: "client_closed", message: "client closed the connection", closeCode: 1000)
    /// Writing to the client failed.
    public static let transportError = DisconnectReason(code: "transport_error", message: "connection failed", closeCode: 1011)
    /// The hub is shutting down.
    public static let shutdown = DisconnectReason(code: "shutdown", message: "server shutting down", closeCode: 1001)
    /// No frame from the client within the heartbeat timeout.
    public static let heartbeatTimeout = DisconnectReason(
        code: "heartbeat_timeout", message: "no heartbeat within the timeout", closeCode: 4009)
    /// The client did not read fast enough; its outbound queue passed its bound.
    public static let slowConsumer = DisconnectReason(
        code: "slow_consumer", message: "outbound queue full: client reads too slowly; resume from the last event id",
        closeCode: 4008)
    /// The room's delivery filters (plugins waiting for I/O) fell too far behind its events.
    public static let filterBacklog = DisconnectReason(
        code: "slow_filter", message: "the room's delivery filters fell behind; resume from the last event id", closeCode: 4008)
    /// A long-poll client stopped polling.
    public static let sessionExpired = DisconnectReason(
        code: "session_expired", message: "no poll within the session timeout", closeCode: 4010)
    /// No auth frame in time.
    public static let authTimeout = DisconnectReason(code: "auth_timeout", message: "no auth frame within the timeout", closeCode: 4002)
    /// The auth frame was missing what it needs, or authentication failed.
    public static func authFailed(_ message: String) -> DisconnectReason {
        DisconnectReason(code: "auth_failed", message: message, closeCode: 4001)
    }
    /// Disconnected by the server API or a plugin.
    public static func kicked(_ message: String = "disconnected by the server") -> DisconnectReason {
        DisconnectReason(code: "kicked", message: message, closeCode: 4004)
    }
    /// A room the connection asked for was refused (SSE streams end with this).
    public static func refused(_ message: String) -> DisconnectReason {
        DisconnectReason(code: "refused", message: message, closeCode: 4003)
    }
    /// The hub holds as many connections as it is allowed.
    public static let connectionLimit = DisconnectReason(
        code: "connection_limit", message: "too many connections", closeCode: 4029)
    /// A frame larger than the hard limit.
    public static let frameTooLarge = DisconnectReason(code: "frame_too_large", message: "frame too large", closeCode: 1009)
    /// The client broke the WebSocket protocol.
    public static let protocolError = DisconnectReason(code: "protocol_error", message: "protocol error", closeCode: 1002)
    /// The client sent a frame without a mask (clients must mask every frame, RFC 6455 §5.1).
    public static let unmaskedFrame = DisconnectReason(
        code: "protocol_error", message: "protocol error: client frames must be masked", closeCode: 1002)
    /// The client sent a text frame that is not valid UTF-8.
    public static let invalidText = DisconnectReason(code: "invalid_utf8", message: "text frame is not valid UTF-8", closeCode: 1007)
}
