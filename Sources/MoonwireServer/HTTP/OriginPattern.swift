/// One entry of the allowed-origins list: `*`, an exact origin, `http://localhost:*` (any port)
/// or `https://*.example.com` (any subdomain).
public struct OriginPattern: Sendable, Equatable {
    let scheme: String?
    let host: String
    let port: String?
    let anyHost: Bool

    /// Parses a pattern; `nil` if it is not one.
    public init?(_ text: String) {
        let lower = text.lowercased()
        if lower == "*" {
            scheme = nil; host = "*"; port = "*"; anyHost = true
            return
        }
        guard let parts = OriginPattern.split(lower), !parts.host.isEmpty else { return nil }
        scheme = parts.scheme
        host = parts.host
        port = parts.port
        anyHost = false
    }

    /// Whether `origin` (as sent in the `Origin` header) matches.
    public func matches(_ origin: String) -> Bool {
        if anyHost { return true }
        guard let parts = OriginPattern.split(origin.lowercased()) else { return false }
        guard parts.scheme == scheme else { return false }
        let defaultPort = parts.scheme == "https" ? "443" : "80"
        let originPort = parts.port ?? defaultPort
        if port != "*" && (port ?? defaultPort) != originPort { return false }
        if host.hasPrefix("*.") {
            return parts.host.hasSuffix(String(host.dropFirst()))
        }
        return parts.host == host
    }

    /// Splits `scheme://host[:port]`; the host may be a bracketed IPv6 address.
    static func split(_ origin: String) -> (scheme: String, host: String, port: String?)? {
        guard let range = origin.range(of: "://") else { return nil }
        let scheme = String(origin[..<range.lowerBound])
        guard scheme == "http" || scheme == "https" else { return nil }
        var rest = Substring(origin[range.upperBound...])
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { return nil }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let host = String(rest[...close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty { return (scheme, host, nil) }
            guard after.hasPrefix(":") else { return nil }
            return (scheme, host, String(after.dropFirst()))
        }
        let pieces = rest.split(separator: ":", omittingEmptySubsequences: false)
        switch pieces.count {
        case 1: return (scheme, String(pieces[0]), nil)
        case 2: return (scheme, String(pieces[0]), String(pieces[1]))
        default: return nil
        }
    }
}
