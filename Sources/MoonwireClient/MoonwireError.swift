import AsyncHTTPClient
import MoonwireCore

/// A failure, from the hub or from the client itself.
///
/// `code` is the hub's stable error code (docs/protocol.md §12: `unknown_event_type`, `not_in_room`,
/// `auth_failed`, …) or one of the client's own:
///
/// | Code | When |
/// |---|---|
/// | `not_connected` | A request needs an open connection and there is none (yet, or any more). |
/// | `unreachable` | The hub could not be reached (connection refused, DNS, TLS, …). |
/// | `timeout` | The hub did not answer in time. |
/// | `disconnected` | The connection ended before the hub answered a request. |
/// | `closed` | The connection was closed (by the hub: see `closeCode`; or by the client). |
/// | `bad_reply` | The hub answered something the client cannot read. |
/// | `http_NNN` | An HTTP error answer without the hub's JSON error shape. |
public struct MoonwireError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// The HTTP status, when the error came in an HTTP answer.
    public var status: Int?
    /// The WebSocket close code that ended a connection. For SSE and long-poll the code the ending stands
    /// for: 4004 for `kicked`, 4003 for `refused`, 4001 for an authentication or authorization refusal.
    public var closeCode: Int?

    public init(code: String, message: String, status: Int? = nil, closeCode: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.closeCode = closeCode
    }

    /// Close codes after which reconnecting would only be refused again: 4001 (authentication refused),
    /// 4003 (refused), 4004 (kicked), 1008 (origin not allowed).
    public static let finalCloseCodes: Set<Int> = [4001, 4003, 4004, 1008]

    /// Whether the client gives up instead of reconnecting.
    public var isFinal: Bool { closeCode.map { Self.finalCloseCodes.contains($0) } ?? false }

    public var description: String { "\(code): \(message)" }

    static let notConnected = MoonwireError(code: "not_connected", message: "not connected to the hub")
    static let closedByClient = MoonwireError(code: "closed", message: "closed by the client")
    static let disconnected = MoonwireError(code: "disconnected", message: "the connection ended before the hub answered")

    static func timeout(_ what: String) -> MoonwireError {
        MoonwireError(code: "timeout", message: what)
    }

    /// The `code` and `message` of a hub `error` event.
    init(errorEvent event: Event) {
        self.init(
            code: event.data["code"]?.stringValue ?? "error",
            message: event.data["message"]?.stringValue ?? "the hub refused the request")
    }

    /// The error of an HTTP answer: the hub's `{"error": {"code", "message"}}`, else `http_STATUS`.
    public init(reply: HubHTTPClient.Reply) {
        if let error = reply.body?["error"], let code = error["code"]?.stringValue {
            self.init(code: code, message: error["message"]?.stringValue ?? code, status: reply.status)
        } else {
            let text = reply.text.count > 200 ? String(reply.text.prefix(200)) + "…" : reply.text
            self.init(code: "http_\(reply.status)", message: text.isEmpty ? "HTTP \(reply.status)" : text, status: reply.status)
        }
    }

    /// Any error as a `MoonwireError` (network failures become `unreachable`).
    public static func from(_ error: any Error) -> MoonwireError {
        if let error = error as? MoonwireError { return error }
        if error is CancellationError { return MoonwireError(code: "cancelled", message: "cancelled") }
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout {
            return .timeout("the hub did not answer in time")
        }
        return MoonwireError(code: "unreachable", message: "cannot reach the hub: \(error)")
    }
}
