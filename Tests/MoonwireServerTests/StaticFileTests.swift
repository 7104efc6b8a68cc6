import Foundation
import MoonwireCore
import MoonwireServer
import Testing

/// `/examples/…`: only files really inside `server.examples_dir`, typed by the file actually served.
@Suite(.timeLimit(.minutes(1))) struct StaticFileTests {
    /// `site/` (served) beside `outside/` (not served), with links from one to the other.
    struct Site {
        let root = try! TemporaryDirectory()
        var site: String { root.path + "/site" }
        var outside: String { root.path + "/outside" }

        init() throws {
            let files = FileManager.default
            try files.createDirectory(atPath: site + "/sub", withIntermediateDirectories: true)
            try files.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try "plain".write(toFile: site + "/a.txt", atomically: true, encoding: .utf8)
            try "<p>root</p>".write(toFile: site + "/index.html", atomically: true, encoding: .utf8)
            try "<p>sub</p>".write(toFile: site + "/sub/index.html", atomically: true, encoding: .utf8)
            try "secret".write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
            try Data(count: (1 << 20) + 1).write(to: URL(fileURLWithPath: site + "/big.bin"))
            try files.createSymbolicLink(atPath: site + "/inside.html", withDestinationPath: "a.txt")
            try files.createSymbolicLink(atPath: site + "/escape.txt", withDestinationPath: outside + "/secret.txt")
            try files.createSymbolicLink(atPath: site + "/escapedir", withDestinationPath: outside)
        }
    }

    @Test func controlCharactersInThePathAreRefused() async throws {
        let site = try Site()
        try await withLiveHub({ $0.examplesDirectory = site.site }) { live in
            for path in ["/examples/a.txt%00.html", "/examples/a.txt%0a", "/examples/%7f", "/examples/sub%00/index.html"] {
                let answer = try await RawHTTPConnection.request(port: live.port, path)
                #expect(answer.status == 400, "\(path)")
                #expect(answer.errorCode == "bad_request", "\(path)")
            }
            for path in ["/examples/%2e%2e/outside/secret.txt", "/examples/sub/%2E%2E/%2e%2e/outside/secret.txt"] {
                let answer = try await RawHTTPConnection.request(port: live.port, path)
                #expect(answer.status == 400, "\(path)")
                #expect(!answer.text.contains("secret"))
            }
            #expect(try await RawHTTPConnection.request(port: live.port, "/examples/a.txt").text == "plain")
        }
    }

    @Test func theContentTypeIsTheServedFilesAndLinksOutAreNotFollowed() async throws {
        let site = try Site()
        try await withLiveHub({ $0.examplesDirectory = site.site }) { live in
            let text = try await RawHTTPConnection.request(port: live.port, "/examples/a.txt")
            #expect(text.status == 200)
            #expect(text.headers["content-type"]?.hasPrefix("text/plain") == true)
            // A link named .html to a .txt file inside: served, as text.
            let linked = try await RawHTTPConnection.request(port: live.port, "/examples/inside.html")
            #expect(linked.status == 200)
            #expect(linked.text == "plain")
            #expect(linked.headers["content-type"]?.hasPrefix("text/plain") == true)
            // Links that lead out of the directory: not found, nothing leaked.
            for path in ["/examples/escape.txt", "/examples/escapedir/secret.txt", "/examples/escapedir/"] {
                let answer = try await RawHTTPConnection.request(port: live.port, path)
                #expect(answer.status == 404, "\(path)")
                #expect(answer.errorCode == "not_found")
                #expect(!answer.text.contains("secret\""))
            }
            let big = try await RawHTTPConnection.request(port: live.port, "/examples/big.bin")
            #expect(big.status == 404)
            #expect(big.json?["error"]?["message"]?.stringValue?.contains("1048576") == true)
        }
    }

    @Test func directoriesIndexesHeadAndRevalidation() async throws {
        let site = try Site()
        try await withLiveHub({ $0.examplesDirectory = site.site }) { live in
            let redirect = try await RawHTTPConnection.request(port: live.port, "/examples/sub?x=1")
            #expect(redirect.status == 301)
            #expect(redirect.headers["location"] == "/examples/sub/?x=1")
            let index = try await RawHTTPConnection.request(port: live.port, "/examples/sub/")
            #expect(index.text == "<p>sub</p>")
            #expect(index.headers["content-type"]?.hasPrefix("text/html") == true)
            #expect(try await RawHTTPConnection.request(port: live.port, "/examples").text == "<p>root</p>")
            #expect(try await RawHTTPConnection.request(port: live.port, "/examples/").text == "<p>root</p>")
            #expect(try await RawHTTPConnection.request(port: live.port, "/examples/nothing.js").status == 404)

            let head = try await RawHTTPConnection.request(port: live.port, "/examples/a.txt", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == "5")
            let eTag = try #require(head.headers["etag"])
            let again = try await RawHTTPConnection.request(port: live.port, "/examples/a.txt", headers: [("If-None-Match", eTag)])
            #expect(again.status == 304)
            #expect(again.body.isEmpty)
        }
    }
}
