import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct PresenceTests {
    @Test func severalConnectionsOfOneUserAllReceiveAndLeaveOnlyWithTheLast() async throws {
        try await withLiveHub { live in
            let watcher = try await live.connect("watcher")
            let tab1 = try await live.connect("alice")
            _ = try await watcher.next(type: "user_joined") { $0["user_id"]?.stringValue == "alice" }
            let tab2 = try await live.connect("alice")
            let phone = try await live.stream("/events?user_id=alice")
            _ = try await phone.next(event: "notification")

            // No second announcement for alice's other connections.
            #expect(try await watcher.collect(type: "user_joined", for: .milliseconds(200)).isEmpty)
            let presence = try await live.http.request("GET", "/api/rooms/general/presence")
            let alice = try #require(presence.body?["users"]?.arrayValue?.first { $0["user_id"]?.stringValue == "alice" })
            #expect(alice["connections"] == 3)
            #expect(alice["transports"] == ["sse", "websocket"])

            try await watcher.say("to every tab")
            #expect(try await tab1.next(type: "message").chatText == "to every tab")
            #expect(try await tab2.next(type: "message").chatText == "to every tab")
            let onPhone = try await phone.next(event: "message")
            #expect(onPhone.json?.chatText == "to every tab")

            // A message from one tab reaches the user's other connections too.
            try await tab1.say("from tab 1")
            #expect(try await tab2.next(type: "message").chatText == "from tab 1")
            _ = try await phone.next(event: "message") { $0.json?.chatText == "from tab 1" }

            await tab1.close()
            phone.close()
            try await live.eventually("two of alice's connections gone") { live.hub.connections(ofUser: "alice").count == 1 }
            #expect(try await watcher.collect(type: "user_left", for: .milliseconds(200)).isEmpty)

            await tab2.close()
            let left = try await watcher.next(type: "user_left")
            #expect(left["user_id"]?.stringValue == "alice")
            #expect(try await watcher.collect(type: "user_left", for: .milliseconds(200)).isEmpty)
            await watcher.close()
        }
    }

    @Test func aDroppedConnectionIsAnnouncedAsLeft() async throws {
        try await withLiveHub { live in
            let watcher = try await live.connect("watcher")
            let alice = try await live.connect("alice")
            _ = try await watcher.next(type: "user_joined")
            alice.session.abort()
            let left = try await watcher.next(type: "user_left")
            #expect(left["user_id"]?.stringValue == "alice")
            await watcher.close()
        }
    }
}
