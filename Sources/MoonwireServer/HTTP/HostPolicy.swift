#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Which host names requests may be addressed to (their `Host` header): `server.allowed_hosts` plus the
/// address the hub listens on — every IP address when it listens on all of them. A web page on a domain
/// that resolves to the hub's address (DNS rebinding) sends its own domain as `Host`, which is not listed,
/// so the hub refuses it. (An IP address as `Host` cannot come from rebinding: the page's origin is then
/// that address itself.)
public struct HostPolicy: Sendable {
    /// Exact names, lowercased, without a trailing dot (`localhost`, `127.0.0.1`, `[::1]`).
    let names: Set<String>
    /// Suffixes of `*.example.com` entries (`.example.com`).
    let suffixes: [String]
    let anyHost: Bool
    /// The hub listens on every address: any IP address is a name it answers for.
    let anyAddress: Bool

    /// - Parameters:
    ///   - allowedHosts: `server.allowed_hosts` entries (validated: see `problem(with:)`).
    ///   - listenAddress: `server.host`; allowed too unless it is a wildcard address (`0.0.0.0`, `::`).
    public init(allowedHosts: [String], listenAddress: String) {
        var names = Set<String>()
        var suffixes: [String] = []
        var anyHost = false
        for entry in allowedHosts.map(Self.normalized) {
            if entry == "*" {
                anyHost = true
            } else if entry.hasPrefix("*.") {
                suffixes.append(String(entry.dropFirst()))
            } else {
                names.insert(entry)
            }
        }
        let listen = Self.normalized(listenAddress)
        anyAddress = ["", "0.0.0.0", "::", "[::]"].contains(listen)
        if !anyAddress {
            names.insert(listen.contains(":") && !listen.hasPrefix("[") ? "[\(listen)]" : listen)
        }
        self.names = names
        self.suffixes = suffixes
        self.anyHost = anyHost
    }

    /// Whether a request whose `Host` header is `host` (`name[:port]`) may be answered. A request without
    /// `Host` (HTTP/1.0 tools; browsers always send one) may.
    public func allows(host: String?) -> Bool {
        guard !anyHost, let host else { return true }
        let name = Self.normalized(Self.stripPort(host))
        return names.contains(name) || suffixes.contains { name.hasSuffix($0) && name.count > $0.count }
            || (anyAddress && Self.isIPAddress(name))
    }

    /// Whether `name` is an IPv4 address or a bracketed IPv6 address.
    static func isIPAddress(_ name: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        if name.hasPrefix("["), name.hasSuffix("]") {
            return inet_pton(AF_INET6, String(name.dropFirst().dropLast()), &buffer) == 1
        }
        return inet_pton(AF_INET, name, &buffer) == 1
    }

    /// What is wrong with an `allowed_hosts` entry, or `nil` if it is a host name, an IP address (IPv6 in
    /// brackets), `*.domain` or `*`.
    public static func problem(with entry: String) -> String? {
        let text = normalized(entry)
        if text == "*" { return nil }
        if text.isEmpty { return "is empty" }
        if text.contains("://") || text.contains("/") { return "must be a host name, not a URL (e.g. \"example.com\")" }
        if text.contains(where: { $0 == " " || $0 == "\t" }) { return "must not contain spaces" }
        if text.hasPrefix("[") { return text.hasSuffix("]") ? nil : "must be an IPv6 address in brackets, like \"[::1]\"" }
        if text.contains(":") { return "must be a host name without a port (any port is allowed)" }
        if text.dropFirst().contains("*") || (text.hasPrefix("*") && !text.hasPrefix("*.")) {
            return "may use * only as \"*\" or at the start of \"*.domain\""
        }
        return nil
    }

    /// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`.
    static func stripPort(_ host: String) -> Substring {
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") { return host[...close] }
        if let colon = host.lastIndex(of: ":") { return host[..<colon] }
        return Substring(host)
    }

    /// Lowercased, without surrounding spaces and one trailing dot (`Example.COM.` → `example.com`).
    static func normalized<S: StringProtocol>(_ text: S) -> String {
        var lower = text.lowercased().trimming(" ")
        if lower.hasSuffix("."), lower.count > 1 { lower.removeLast() }
        return lower
    }
}
