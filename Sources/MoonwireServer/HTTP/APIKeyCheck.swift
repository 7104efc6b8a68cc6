import HTTPTypes
import Hummingbird
import MoonwireCore

/// Checks the server API key on requests, when one is configured.
struct APIKeyCheck: Sendable {
    let key: String?

    /// Throws `unauthorized` unless the request carries the key (or no key is configured).
    func verify(_ request: Request) throws(HubError) {
        guard let key else { return }
        var presented = request.headers[.xAPIKey]
        if presented == nil, let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            presented = String(authorization.dropFirst(7))
        }
        guard let presented else {
            throw HubError(.unauthorized, "this endpoint needs the API key (Authorization: Bearer KEY or X-API-Key: KEY)")
        }
        guard constantTimeEquals(presented, key) else {
            throw HubError(.unauthorized, "wrong API key")
        }
    }

    /// True when a key is configured and the request carries it.
    func isTrusted(_ request: Request) -> Bool {
        key != nil && (try? verify(request)) != nil
    }

    private func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let a = Array(a.utf8), b = Array(b.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}

extension HTTPField.Name {
    static let xAPIKey = HTTPField.Name("X-API-Key")!
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}
