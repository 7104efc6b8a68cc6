import Foundation
import MoonwireClient
import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct HTTPBehaviourTests {
    @Test func unknownRoutesAnswerWithTheJSONErrorShape() async throws {
        try await withLiveHub { live in
            let reply = try await live.http.request("GET", "/no/such/thing")
            #expect(reply.status == 404)
            #expect(reply.body?["error"]?["code"] == "not_found")
        }
    }

    @Test func plainGetOfTheWebSocketEndpointSaysToUpgrade() async throws {
        try await withLiveHub { live in
            let reply = try await live.http.request("GET", "/ws")
            #expect(reply.status == 426)
            #expect(reply.header("Upgrade") == "websocket")
            let foreign = try await live.http.request("GET", "/ws", headers: [("Origin", "https://evil.example")])
            #expect(foreign.status == 403)
            #expect(foreign.body?["error"]?["code"] == "origin_not_allowed")
        }
    }

    @Test func roomIDsWithSlashesAreReachableEncoded() async throws {
        try await withLiveHub { live in
            try await live.publish("team/alpha", ["message": "hi"])
            let reply = try await live.http.request("GET", "/api/rooms/team%2Falpha/history")
            #expect(reply.status == 200)
            #expect(reply.body?["room_id"] == "team/alpha")
            #expect(reply.body?["events"]?.arrayValue?.count == 1)
        }
    }

    @Test func statsAsJSONFromMetricsNeedsTheKeyWhenOneIsSet() async throws {
        try await withLiveHub({ $0.apiKey = "k" }) { live in
            let open = try await live.http.request("GET", "/metrics")
            #expect(open.status == 200)
            #expect(open.text.contains("moonwire_connections"))
            let json = try await live.http.request("GET", "/metrics", headers: [("Accept", "application/json")])
            #expect(json.status == 401)
            let keyed = try await live.http.request("GET", "/metrics", headers: [("Accept", "application/json"), ("X-API-Key", "k")])
            #expect(keyed.body?["total_connections"] != nil)
        }
    }

    @Test func eventsOverTheSizeLimitAreRefused() async throws {
        try await withLiveHub({ $0.hub.maxEventBytes = 4096 }) { live in
            let reply = try await live.http.request(
                "POST", "/api/publish", json: ["room": "general", "data": ["pad": .string(String(repeating: "x", count: 5000))]])
            #expect(reply.status == 413)
            #expect(reply.body?["error"]?["code"] == "payload_too_large")
        }
    }

    @Test func nobodyMayClaimTheHubsOwnUser() async throws {
        try await withLiveHub { live in
            let session = try await WebSocketSession.connect(url: live.webSocketURL, authFrame: ["user_id": "system"])
            let probe = WebSocketProbe(session)
            let error = try await probe.next(type: "error")
            #expect(error["data"]?["code"] == "invalid_field")
            await session.waitUntilClosed()
            #expect(session.closeCode?.code == 4001)
            let spoof = try await live.http.request("POST", "/message", json: ["content": "x", "sender": "system"])
            #expect(spoof.status == 400)
        }
    }
}

@Suite struct ClientLibraryTests {
    @Test func theServedClientIsTheOneInTheRepository() async throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("clients/js/moonwire.js")
        let source = try String(contentsOf: file, encoding: .utf8)
        try await withLiveHub { live in
            let reply = try await live.http.request("GET", "/moonwire.js")
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type")?.hasPrefix("text/javascript") == true)
            #expect(reply.text == source, "run scripts/embed-client.sh after editing clients/js/moonwire.js")
        }
    }

    @Test func theLandingPageIsHTMLForBrowsersAndTextForEveryoneElse() async throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("clients/landing/index.html")
        let page = try String(contentsOf: file, encoding: .utf8)
        try await withLiveHub { live in
            let browser = try await live.http.request(
                "GET", "/", headers: [("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")])
            #expect(browser.status == 200)
            #expect(browser.header("Content-Type") == "text/html; charset=utf-8")
            #expect(browser.text == page, "run scripts/embed-client.sh after editing clients/landing/index.html")
            let curl = try await live.http.request("GET", "/", headers: [("Accept", "*/*")])
            #expect(curl.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(curl.text.hasPrefix("Moonwire real-time hub"))
            #expect(curl.text.contains("GET /history?room=..."))
            // A malformed Accept header is read as "not HTML", never a crash.
            for accept in [";", "a,;", ",,", "text/html;;q=1"] {
                let odd = try await live.http.request("GET", "/", headers: [("Accept", accept)])
                #expect(odd.status == 200, "Accept: \(accept)")
            }
            #expect(try await live.http.request("GET", "/health").status == 200)
        }
    }
}
