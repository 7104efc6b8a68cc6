import MoonwireCore

/// Which browser origins may use the hub: checked for CORS and for WebSocket upgrades.
public struct CORSPolicy: Sendable {
    public let patterns: [OriginPattern]

    public init(allowedOrigins: [String]) {
        self.patterns = allowedOrigins.compactMap(OriginPattern.init)
    }

    /// Whether a request from `origin` is allowed. Pages served by the hub itself (same origin as the
    /// request's `Host`) always are. `ws://` and `wss://` origins, which no browser sends (some WebSocket
    /// libraries do), are not a browser's, so the browser-protection check does not apply to them.
    public func allows(origin: String, host: String?) -> Bool {
        let lower = origin.lowercased()
        if lower.hasPrefix("ws://") || lower.hasPrefix("wss://") {
            return true
        }
        if let host, let origin = OriginPattern.split(origin.lowercased()),
            let served = OriginPattern.split("\(origin.scheme)://\(host.lowercased())")
        {
            let defaultPort = origin.scheme == "https" ? "443" : "80"
            if origin.host == served.host && (origin.port ?? defaultPort) == (served.port ?? defaultPort) {
                return true
            }
        }
        return patterns.contains { $0.matches(origin) }
    }

    /// The first origin among `origins` (every `Origin` header of a request) that is not allowed, if any.
    public func firstRefused(_ origins: [String], host: String?) -> String? {
        origins.first { !allows(origin: $0, host: host) }
    }

    /// The error a request gets when one of its `origins` is not allowed; `nil` when all are.
    public func refusal(_ origins: [String], host: String?) -> HubError? {
        firstRefused(origins, host: host).map { HubError(.originNotAllowed, "origin '\($0)' is not in server.allowed_origins") }
    }

    /// The headers an answer to an allowed cross-origin request carries (names and values).
    static func answerHeaders(origin: String) -> [(name: String, value: String)] {
        [("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", "Content-Type"), ("Vary", "Origin")]
    }
}
