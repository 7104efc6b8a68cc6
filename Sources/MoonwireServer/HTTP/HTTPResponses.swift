import HTTPTypes
import Hummingbird
import MoonwireCore
import NIOCore

/// JSON responses and the mapping of hub error codes to HTTP statuses.
enum HTTPResponses {
    /// A JSON response.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        json(bytes: JSONWriter.bytes(value), status: status)
    }

    /// A JSON answer whose body is already encoded.
    static func json(bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `{"error": {"code": ..., "message": ...}}` with the status the code maps to.
    static func error(_ error: HubError) -> Response {
        json(errorObject(error), status: status(for: error.code))
    }

    /// The JSON of an error answer, `{"error": {"code": ..., "message": ...}}`.
    static func errorObject(_ error: HubError) -> JSONValue {
        ["error": ["code": .string(error.code.rawValue), "message": .string(error.message)]]
    }

    static func status(for code: HubError.Code) -> HTTPResponse.Status {
        switch code {
        case .malformedFrame, .missingField, .invalidField, .unknownEventType, .invalidRoom, .badRequest, .notInRoom:
            return .badRequest
        case .frameTooLarge, .payloadTooLarge: return .contentTooLarge
        case .authRequired, .authFailed, .unauthorized: return .unauthorized
        case .notAllowed, .joinRefused, .rejected, .originNotAllowed: return .forbidden
        case .roomNotFound, .notFound: return .notFound
        case .roomLimit, .rateLimited, .connectionLimit: return .tooManyRequests
        case .shuttingDown, .unavailable: return .serviceUnavailable
        case .upgradeRequired: return .upgradeRequired
        case .requestTimeout: return .requestTimeout
        case .hostNotAllowed: return .misdirectedRequest
        case .internalError: return .internalServerError
        }
    }
}
