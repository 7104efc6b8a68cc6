/// Where the server under load listens, and how each target names its routes.
///
/// Moonwire: `GET /ws` (auth frame, then event frames), `GET /events?rooms=R&plain=1`,
/// `GET /poll?client_id=C&rooms=R&last_message_id=X&timeout=T`, `POST /api/publish`.
/// Nchan (bench/nchan/nginx.conf): subscribers on `/sub/ROOM` (WebSocket, EventSource with
/// `Accept: text/event-stream`, long-poll with `If-Modified-Since` / `If-None-Match`), publisher `POST /pub?id=ROOM`.
public struct HubEndpoint: Sendable {
    public var target: BenchTarget
    public var host: String
    public var port: Int
    /// Moonwire's API key, when the hub has one.
    public var apiKey: String?

    public init(target: BenchTarget, host: String, port: Int, apiKey: String? = nil) {
        self.target = target
        self.host = host
        self.port = port
        self.apiKey = apiKey
    }

    /// Parses `http://HOST:PORT` (a path after it is ignored).
    public init(target: BenchTarget, url: String, apiKey: String? = nil) throws {
        var rest = Substring(url)
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst(7)
        } else if rest.hasPrefix("ws://") {
            rest = rest.dropFirst(5)
        } else if rest.contains("://") {
            throw BenchError.invalid("only http:// URLs are supported: \(url)")
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var host = String(rest)
        var port = 80
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            host = String(rest[..<colon])
            guard let value = Int(rest[rest.index(after: colon)...]), (1...65535).contains(value) else {
                throw BenchError.invalid("bad port in \(url)")
            }
            port = value
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        guard !host.isEmpty else { throw BenchError.invalid("no host in \(url)") }
        self.init(target: target, host: host, port: port, apiKey: apiKey)
    }

    public var baseURL: String { "http://\(hostHeader)" }

    /// The `Host` header value.
    public var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Headers every request to this server carries.
    func commonHeaders() -> [(String, String)] {
        var headers = [("Host", hostHeader)]
        if target == .moonwire, let apiKey, !apiKey.isEmpty { headers.append(("X-API-Key", apiKey)) }
        return headers
    }

    /// The path a subscriber of `room` opens.
    func subscribePath(_ transport: BenchTransport, room: String, user: String, client: String) -> String {
        switch (target, transport) {
        case (.moonwire, .ws): return "/ws"
        case (.moonwire, .sse): return "/events?rooms=\(room)&plain=1&user_id=\(user)"
        case (.moonwire, .poll): return "/poll?client_id=\(client)&user_id=\(user)&rooms=\(room)"
        case (.nchan, _): return "/sub/\(room)"
        }
    }

    /// The publishing request for one event: path and body.
    func publishRequest(room: String, payload: [UInt8]) -> (path: String, body: [UInt8]) {
        switch target {
        case .moonwire:
            var body = Array(#"{"room":""#.utf8)
            body += room.utf8
            body += Array(#"","event_type":"message","user_id":"bench","data":"#.utf8)
            body += payload
            body.append(UInt8(ascii: "}"))
            return ("/api/publish", body)
        case .nchan:
            return ("/pub?id=\(room)", payload)
        }
    }
}

public enum BenchError: Error, CustomStringConvertible {
    case invalid(String)
    case failed(String)
    case timeout(String)

    public var description: String {
        switch self {
        case .invalid(let message): "invalid: \(message)"
        case .failed(let message): message
        case .timeout(let message): "timed out: \(message)"
        }
    }
}
