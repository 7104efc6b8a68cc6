/// An error the hub reports to a client or API caller, with a stable machine-readable code.
public struct HubError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable error codes; documented in docs/protocol.md.
    public enum Code: String, Sendable, CaseIterable {
        case malformedFrame = "malformed_frame"
        case missingField = "missing_field"
        case invalidField = "invalid_field"
        case unknownEventType = "unknown_event_type"
        case frameTooLarge = "frame_too_large"
        case notAllowed = "not_allowed"
        case invalidRoom = "invalid_room"
        case roomNotFound = "room_not_found"
        case notInRoom = "not_in_room"
        case roomLimit = "room_limit"
        case joinRefused = "join_refused"
        case rejected = "rejected"
        case rateLimited = "rate_limited"
        case authRequired = "auth_required"
        case authFailed = "auth_failed"
        case unauthorized = "unauthorized"
        case connectionLimit = "connection_limit"
        case originNotAllowed = "origin_not_allowed"
        case hostNotAllowed = "host_not_allowed"
        case badRequest = "bad_request"
        case requestTimeout = "request_timeout"
        case upgradeRequired = "upgrade_required"
        case notFound = "not_found"
        case payloadTooLarge = "payload_too_large"
        case shuttingDown = "shutting_down"
        case unavailable = "unavailable"
        case internalError = "internal_error"
    }

    public var code: Code
    public var message: String
    /// The `ref` of the client frame this answers, if it had one.
    public var ref: JSONValue?

    public init(_ code: Code, _ message: String, ref: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.ref = ref
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
