import Crypto
import Foundation
import MoonwireClient
import MoonwireCore

/// An HS256 JSON Web Token over `claims`, signed with `secret` (as an identity provider would issue it).
func signJWT(_ claims: JSONObject, secret: String) -> String {
    func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
    let header = base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
    let payload = base64URL(Data(JSONWriter.bytes(.object(claims))))
    let mac = HMAC<SHA256>.authenticationCode(for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
    return "\(header).\(payload).\(base64URL(Data(mac)))"
}

/// Seconds since 1970, for JWT `exp` / `nbf` claims.
var unixNow: Double { Date().timeIntervalSince1970 }

/// How a WebSocket connection the hub refused ended.
struct RefusedConnection {
    /// The error event sent before the close.
    var error: JSONValue
    var closeCode: Int?
    var closeReason: String?
}

extension LiveHub {
    /// Opens a WebSocket with `frame` as its auth frame and waits for the welcome: the probe and the welcome.
    func connectWelcomed(_ frame: JSONObject, headers: [(String, String)] = []) async throws -> (WebSocketProbe, JSONValue) {
        let session = try await WebSocketSession.connect(url: webSocketURL, authFrame: .object(frame), headers: headers)
        let probe = WebSocketProbe(session)
        let first = try await probe.inbox.next(timeout: .seconds(5), "welcome or refusal") { _ in true }
        guard first["event_type"]?.stringValue == "notification" else {
            throw ProbeError.unexpected("expected the welcome, got \(first)")
        }
        return (probe, first)
    }

    /// Opens a WebSocket with `frame` as its auth frame, expecting a refusal: the error event, then the close.
    func connectRefused(_ frame: JSONObject, headers: [(String, String)] = []) async throws -> RefusedConnection {
        let session = try await WebSocketSession.connect(url: webSocketURL, authFrame: .object(frame), headers: headers)
        let probe = WebSocketProbe(session)
        let first = try await probe.inbox.next(timeout: .seconds(5), "refusal") { _ in true }
        guard first["event_type"]?.stringValue == "error" else {
            await session.close()
            throw ProbeError.unexpected("expected a refusal, got \(first)")
        }
        try await probe.inbox.waitUntilFinished(timeout: .seconds(5))
        return RefusedConnection(error: first, closeCode: session.closeCode?.code, closeReason: session.closeCode?.reason)
    }

    /// `GET path` on a streaming endpoint that is expected to refuse (so the answer is a plain JSON error).
    func refusedRequest(_ path: String, headers: [(String, String)] = []) async throws -> HubHTTPClient.Reply {
        try await http.request("GET", path, headers: headers, timeout: .seconds(10))
    }
}

extension WebSocketProbe {
    /// Sends `frame` with a fresh `ref` and returns the `ack` or `error` that answers it.
    @discardableResult
    func request(_ frame: JSONObject, timeout: Duration = .seconds(5)) async throws -> JSONValue {
        let ref = JSONValue.string("req-\(RandomID.token(length: 8))")
        var frame = frame
        frame["ref"] = ref
        try await send(.object(frame))
        return try await inbox.next(timeout: timeout, "answer to \(frame)") {
            ($0["event_type"]?.stringValue == "ack" || $0["event_type"]?.stringValue == "error") && $0["data"]?["ref"] == ref
        }
    }

    /// Sends a chat message with a ref; the ack or error.
    @discardableResult
    func sayAnswered(_ text: String, in room: String = "general", extra: JSONObject = [:]) async throws -> JSONValue {
        var data: JSONObject = ["message": .string(text)]
        for (key, value) in extra { data[key] = value }
        return try await request(["event_type": "message", "room_id": .string(room), "data": .object(data)])
    }

    /// Joins `room` with a ref; the ack or error (unlike `join`, a refusal is returned, not thrown).
    func joinAnswered(_ room: String) async throws -> JSONValue {
        try await request(["event_type": "user_joined", "data": ["room_id": .string(room)]])
    }
}

extension JSONValue {
    /// The `data.code` of an error event.
    var errorCode: String? { self["data"]?["code"]?.stringValue }
    /// The `data.message` of an error event.
    var errorMessage: String? { self["data"]?["message"]?.stringValue }
    /// Whether this is an `ack`.
    var isAck: Bool { self["event_type"]?.stringValue == "ack" }
}

extension HubHTTPClient.Reply {
    /// `error.code` of a JSON error answer.
    var errorCode: String? { body?["error"]?["code"]?.stringValue }
    /// `error.message` of a JSON error answer.
    var errorMessage: String? { body?["error"]?["message"]?.stringValue }
}
