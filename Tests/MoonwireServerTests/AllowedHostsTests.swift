import Foundation
import MoonwireCore
import MoonwireServer
import Testing

/// DNS rebinding: a page on a domain that resolves to the hub's address sends that domain as `Host` (and as
/// its same-origin `Origin`). Every route refuses such requests with `421 host_not_allowed`.
@Suite(.timeLimit(.minutes(1))) struct AllowedHostsTests {
    @Test func aRebindingPageReachesNoRoute() async throws {
        let site = try TemporaryDirectory()
        try "hello".write(toFile: site.path + "/index.html", atomically: true, encoding: .utf8)
        try await withLiveHub({ $0.examplesDirectory = site.path }) { live in
            let evil = "rebind.example:\(live.port)"
            let origin = [("Origin", "http://\(evil)")]
            let publish = #"{"room":"general","user_id":"system","data":{"message":"owned"}}"#
            let attempts: [(String, String, String)] = [
                ("POST", "/api/publish", publish), ("GET", "/api/stats", ""), ("GET", "/events?rooms=general", ""),
                ("GET", "/poll?client_id=x&rooms=general&timeout=0", ""), ("GET", "/", ""), ("GET", "/examples/", ""),
                ("GET", "/moonwire.js", ""), ("OPTIONS", "/api/publish", ""), ("GET", "/no/such/route", ""),
            ]
            for (method, path, body) in attempts {
                var headers = origin
                if method == "OPTIONS" { headers.append(("Access-Control-Request-Method", "POST")) }
                if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
                let answer = try await RawHTTPConnection.request(port: live.port, path, method: method, host: "rebind.example", headers: headers, body: body)
                #expect(answer.status == 421, "\(method) \(path)")
                #expect(answer.errorCode == "host_not_allowed", "\(method) \(path)")
                #expect(answer.json?["error"]?["message"]?.stringValue?.contains("'\(evil)'") == true)
            }
            // A WebSocket upgrade is refused before it happens.
            let upgrade = try await RawHTTPConnection.request(
                port: live.port, "/ws", host: "rebind.example",
                headers: origin + [
                    ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                    ("Sec-WebSocket-Version", "13"),
                ])
            #expect(upgrade.status == 421)
            #expect(upgrade.errorCode == "host_not_allowed")
            // Nothing got through; the hub serves its own clients meanwhile.
            #expect(live.hub.room("general") == nil || live.hub.room("general")?.userCount == 0)
            let history = try await live.http.request("GET", "/api/rooms/general/history")
            #expect(history.status == 404 || history.body?["events"]?.arrayValue?.isEmpty == true)
            #expect(try await RawHTTPConnection.request(port: live.port, "/health").status == 200)
        }
    }

    @Test func theLoopbackNamesAreAllowedByDefault() async throws {
        try await withLiveHub { live in
            for host in ["127.0.0.1", "localhost", "LOCALHOST", "localhost.", "[::1]"] {
                let answer = try await RawHTTPConnection.request(port: live.port, "/health", host: host)
                #expect(answer.status == 200, "Host: \(host)")
            }
            // No Host at all (an HTTP/1.0 tool; browsers always send one).
            let connection = try RawHTTPConnection(port: live.port)
            try connection.send("GET /health HTTP/1.0\r\n\r\n")
            #expect(try await connection.readResponse()?.status == 200)
            // Two Host headers are malformed.
            let twice = try await RawHTTPConnection.request(port: live.port, "/health", headers: [("Host", "localhost")])
            #expect(twice.status == 400)
            #expect(twice.errorCode == "bad_request")
            // A name made to resolve to loopback is not a loopback name.
            let rebound = try await RawHTTPConnection.request(port: live.port, "/health", host: "127.0.0.1.nip.io")
            #expect(rebound.status == 421)
        }
    }

    @Test func configuredNamesWildcardsAndTheListenAddress() async throws {
        try await withLiveHub({ $0.allowedHosts = ["app.example", "*.corp.example"] }) { live in
            let expected: [(String, Int)] = [
                ("app.example", 200), ("chat.corp.example", 200), ("a.b.corp.example", 200), ("corp.example", 421),
                ("evilcorp.example", 421), ("localhost", 421), ("127.0.0.1", 200),
            ]
            for (host, status) in expected {
                let answer = try await RawHTTPConnection.request(port: live.port, "/health", host: host)
                #expect(answer.status == status, "Host: \(host)")
            }
        }
        try await withLiveHub({ $0.allowedHosts = ["*"] }) { live in
            let answer = try await RawHTTPConnection.request(port: live.port, "/health", host: "anything.example")
            #expect(answer.status == 200)
        }
    }

    @Test func aHubListeningOnEveryAddressAnswersForEveryIPAddress() {
        // No socket needed: binding every interface in a test would expose it. An IP address as Host is
        // never a rebinding (the page's origin is that address).
        let everywhere = HostPolicy(allowedHosts: ["chat.example.com"], listenAddress: "0.0.0.0")
        for host in ["192.168.1.5:8080", "10.0.0.1", "[fe80::1]:8080", "chat.example.com:80", "127.0.0.1"] {
            #expect(everywhere.allows(host: host), "\(host)")
        }
        for host in ["myhost.lan:8080", "127.0.0.1.nip.io", "192.168.1.5.example", "[not-an-address]", "localhost"] {
            #expect(!everywhere.allows(host: host), "\(host)")
        }
        let loopback = HostPolicy(allowedHosts: ["localhost"], listenAddress: "::1")
        #expect(loopback.allows(host: "[::1]:9000"))
        #expect(!loopback.allows(host: "192.168.1.5"))
    }

    @Test func entriesAreCheckedWhenTheConfigurationLoads() throws {
        for bad in ["http://app.example", "app.example:8080", "app.example/x", "a*b.example", "[::1"] {
            #expect(throws: ConfigurationError.self, "\(bad)") {
                try ConfigurationLoader.load(fileText: nil, environment: ["MOONWIRE_SERVER_ALLOWED_HOSTS": bad])
            }
        }
        let good = try ConfigurationLoader.load(
            fileText: "[server]\nallowed_hosts = [\"*\", \"[::1]\", \"*.example.com\", \"chat.example.com\"]\n", environment: [:])
        #expect(good.allowedHosts == ["*", "[::1]", "*.example.com", "chat.example.com"])
        #expect(ServerConfiguration().allowedHosts == ["localhost", "127.0.0.1", "[::1]"])
    }
}

/// A fresh directory under the system's temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("moonwire-\(RandomID.token(length: 12))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
