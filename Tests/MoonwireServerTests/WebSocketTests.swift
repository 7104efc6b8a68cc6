import MoonwireClient
import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct WebSocketTests {
    @Test func welcomeAutoJoinAndRecentHistory() async throws {
        try await withLiveHub { live in
            for i in 1...25 { try await live.publish("general", ["message": .string("m\(i)")]) }
            let session = try await WebSocketSession.connect(url: live.webSocketURL, authFrame: ["user_id": "alice", "metadata": ["color": "red"]])
            let alice = WebSocketProbe(session)
            let welcome = try await alice.next(type: "notification")
            #expect(welcome["user_id"]?.stringValue == "system")
            #expect(welcome["room_id"] == .null)
            #expect(welcome["data"]?["message"]?.stringValue == "Welcome alice!")
            #expect(welcome["data"]?["rooms"]?.arrayValue?.contains("general") == true)
            var replayed: [String] = []
            for _ in 0..<20 { replayed.append(try await alice.next(type: "message").chatText ?? "") }
            #expect(replayed == (6...25).map { "m\($0)" })
            #expect(try await alice.collect(type: "message", for: .milliseconds(200)).isEmpty)
            await alice.close()
        }
    }

    @Test func messagesReachOthersButNotTheSendingConnection() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            _ = try await alice.next(type: "user_joined") { $0["user_id"]?.stringValue == "bob" }
            try await alice.say("hello bob", ref: "r1")
            let ack = try await alice.next(type: "ack")
            #expect(ack["data"]?["ref"] == "r1")
            let message = try await bob.next(type: "message")
            #expect(message.chatText == "hello bob")
            #expect(message["user_id"]?.stringValue == "alice")
            #expect(message["room_id"]?.stringValue == "general")
            #expect(ack["data"]?["event_id"] == message["event_id"])
            #expect(EventID(message["event_id"]?.stringValue ?? "") != nil)
            #expect(try await alice.collect(type: "message", for: .milliseconds(200)).isEmpty)
            await alice.close()
            await bob.close()
        }
    }

    @Test func spoofedUserIDIsStampedWithTheConnectionsIdentity() async throws {
        try await withLiveHub { live in
            let mallory = try await live.connect("mallory")
            let bob = try await live.connect("bob")
            try await mallory.send([
                "event_id": "fake", "event_type": "message", "user_id": "alice", "room_id": "general",
                "data": ["message": "I am alice"], "timestamp": 1,
            ])
            let message = try await bob.next(type: "message")
            #expect(message["user_id"]?.stringValue == "mallory")
            #expect(message["event_id"]?.stringValue != "fake")
            #expect(message["timestamp"]?.doubleValue ?? 0 > 1_000_000)
            await mallory.close()
            await bob.close()
        }
    }

    @Test func heartbeatIsAnsweredWithPong() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            try await alice.send(["event_type": "heartbeat", "user_id": "alice", "data": ["ping": true]])
            let pong = try await alice.next(type: "heartbeat")
            #expect(pong["data"]?["pong"] == true)
            #expect(pong["user_id"]?.stringValue == "system")
            await alice.close()
        }
    }

    @Test func malformedFramesGetAnErrorAndTheConnectionStays() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            let cases: [(String, String)] = [
                ("not json", "malformed_frame"),
                ("[1,2]", "malformed_frame"),
                (#"{"room_id":"general"}"#, "missing_field"),
                (#"{"event_type":42}"#, "invalid_field"),
                (#"{"event_type":"dance","room_id":"general","data":{}}"#, "unknown_event_type"),
                (#"{"event_type":"message","data":{"message":"no room"}}"#, "missing_field"),
                (#"{"event_type":"message","room_id":"elsewhere","data":{"message":"x"}}"#, "not_in_room"),
                (#"{"event_type":"message","room_id":"general","data":"text"}"#, "invalid_field"),
                (#"{"event_type":"user_joined","data":{}}"#, "missing_field"),
                (#"{"event_type":"user_joined","data":{"room_id":"bad room!"}}"#, "invalid_room"),
                (#"{"event_type":"user_left","data":{"room_id":"never-joined"}}"#, "not_in_room"),
                (#"{"event_type":"notification","room_id":"general","data":{}}"#, "not_allowed"),
                (#"{"event_type":"error","room_id":"general","data":{}}"#, "not_allowed"),
            ]
            for (frame, code) in cases {
                try await alice.sendText(frame)
                let error = try await alice.next(type: "error")
                #expect(error["data"]?["code"]?.stringValue == code, "frame \(frame)")
                #expect(error["data"]?["message"]?.stringValue?.isEmpty == false)
            }
            try await alice.say("still here")
            #expect(try await bob.next(type: "message").chatText == "still here")
            #expect(try await bob.collect(type: "error", for: .milliseconds(100)).isEmpty)
            await alice.close()
            await bob.close()
        }
    }

    @Test func oversizedFrameGetsAnErrorAndTheConnectionStays() async throws {
        try await withLiveHub({ $0.hub.maxFrameBytes = 1024 }) { live in
            let alice = try await live.connect("alice")
            try await alice.say(String(repeating: "x", count: 2000))
            let error = try await alice.next(type: "error")
            #expect(error["data"]?["code"]?.stringValue == "frame_too_large")
            try await alice.send(["event_type": "heartbeat", "data": [:]])
            _ = try await alice.next(type: "heartbeat")
            await alice.close()
        }
    }

    @Test func errorsCarryTheFramesRef() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            try await alice.send(["event_type": "message", "room_id": "nowhere", "data": ["message": "x"], "ref": 7])
            let error = try await alice.next(type: "error")
            #expect(error["data"]?["ref"] == 7)
            #expect(error["data"]?["code"]?.stringValue == "not_in_room")
            await alice.close()
        }
    }

    @Test func missingUserIDIsRefusedWithTheSeedsErrorAndClose4001() async throws {
        try await withLiveHub { live in
            let session = try await WebSocketSession.connect(url: live.webSocketURL, authFrame: ["metadata": [:]])
            let probe = WebSocketProbe(session)
            let error = try await probe.next(type: "error")
            #expect(error["error"]?.stringValue == "user_id required")
            #expect(error["data"]?["code"]?.stringValue == "auth_required")
            await session.waitUntilClosed()
            #expect(session.closeCode?.code == 4001)
        }
    }

    @Test func silentClientIsClosedAfterTheAuthTimeout() async throws {
        try await withLiveHub({ $0.authTimeout = .milliseconds(300) }) { live in
            let session = try await WebSocketSession.connect(url: live.webSocketURL)
            await session.waitUntilClosed()
            #expect(session.closeCode?.code == 4002)
            #expect(live.hub.connections.isEmpty)
        }
    }

    @Test func heartbeatTimeoutClosesAndAnnouncesTheUserAsLeft() async throws {
        // The hub's time is a manual clock: who is silent for how long is decided by the test, not by load.
        let clock = ManualClock()
        try await withLiveHub({ $0.hub.heartbeatTimeout = .seconds(60) }, clock: clock) { live in
            let quiet = try await live.connect("quiet")
            let watcher = try await live.connect("watcher")
            clock.advance(by: .seconds(40))
            // The watcher beats (the reply shows the hub has seen it); the quiet client sends nothing.
            try await watcher.send(["event_type": "heartbeat", "data": [:]])
            _ = try await watcher.next(type: "heartbeat")
            clock.advance(by: .seconds(30))  // quiet: 70 s of silence; watcher: 30 s
            await live.hub.sweep()
            let left = try await watcher.next(type: "user_left") { $0["user_id"]?.stringValue == "quiet" }
            #expect(left["room_id"]?.stringValue == "general")
            await quiet.session.waitUntilClosed()
            #expect(quiet.session.closeCode?.code == 4009)
            #expect(live.hub.isPresent("watcher", in: "general"))
            await watcher.close()
        }
    }

    @Test func housekeepingRunsOftenEnoughForShortTimeouts() {
        var configuration = HubConfiguration()
        configuration.heartbeatTimeout = .seconds(1)
        let hub = Hub(configuration: configuration, broker: MemoryBroker(historySize: 10))
        #expect(hub.sweepInterval == .milliseconds(250), "a 1 s timeout is enforced within 1.25 s, not 2 s")
        #expect(Hub(configuration: HubConfiguration(), broker: MemoryBroker(historySize: 10)).sweepInterval == .seconds(1))
    }

    @Test func upgradeFromAForeignOriginIsClosedWithAReason() async throws {
        try await withLiveHub { live in
            let session = try await WebSocketSession.connect(
                url: live.webSocketURL, authFrame: ["user_id": "eve"], headers: [("Origin", "https://evil.example")])
            let probe = WebSocketProbe(session)
            let error = try await probe.next(type: "error")
            #expect(error["data"]?["code"] == "origin_not_allowed")
            await session.waitUntilClosed()
            #expect(session.closeCode?.code == 1008)
            #expect(live.hub.connections.isEmpty)
            let allowed = try await live.connect("dev", headers: [("Origin", "http://localhost:3000")])
            await allowed.close()
        }
    }

    @Test func joinAndLeaveAreAnnouncedAndCreateRooms() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            try await bob.join("news")
            try await alice.join("news")
            let joined = try await bob.next(type: "user_joined") { $0["room_id"]?.stringValue == "news" }
            #expect(joined["user_id"]?.stringValue == "alice")
            #expect(joined["data"]?["room_id"]?.stringValue == "news")
            #expect(live.hub.room("news") != nil)
            try await alice.send(["event_type": "user_left", "data": ["room_id": "news"]])
            let left = try await bob.next(type: "user_left") { $0["room_id"]?.stringValue == "news" }
            #expect(left["user_id"]?.stringValue == "alice")
            try await alice.say("only general", in: "news")
            #expect(try await alice.next(type: "error")["data"]?["code"]?.stringValue == "not_in_room")
            await alice.close()
            await bob.close()
        }
    }

    @Test func typingIsDeliveredButNeverStored() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            try await alice.send(["event_type": "typing", "room_id": "general", "data": ["is_typing": true]])
            let typing = try await bob.next(type: "typing")
            #expect(typing["user_id"]?.stringValue == "alice")
            #expect(typing["data"]?["is_typing"] == true)
            #expect(EventID(typing["event_id"]?.stringValue ?? "") == nil)
            let history = try await live.http.request("GET", "/api/rooms/general/history")
            #expect(history.body?["events"]?.arrayValue?.isEmpty == true)
            await alice.close()
            await bob.close()
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct RefusedUpgradeTests {
    @Test func aRefusedOriginThatSendsNothingStillLearnsWhy() async throws {
        try await withLiveHub({ $0.authTimeout = .milliseconds(300) }) { live in
            let session = try await WebSocketSession.connect(url: live.webSocketURL, headers: [("Origin", "https://evil.example")])
            let probe = WebSocketProbe(session)
            let error = try await probe.next(type: "error")
            #expect(error["data"]?["code"] == "origin_not_allowed")
            await session.waitUntilClosed()
            #expect(session.closeCode?.code == 1008)
        }
    }
}
