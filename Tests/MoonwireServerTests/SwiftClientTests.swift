import Foundation
import MoonwireClient
import MoonwireCore
import Testing

/// The Swift client (Sources/MoonwireClient) against a live hub, over each transport.
@Suite(.timeLimit(.minutes(2))) struct SwiftClientTests {
    static let transports = MoonwireClient.Transport.allCases

    @Test(arguments: transports)
    func receivesWhatOthersPublishOnceAndInOrder(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub { live in
            let client = MoonwireClient(options(live.baseURL, "reader", ["general", "news"], transport))
            let inbox = Inbox(client.events)
            try await client.connect()
            #expect(await client.isOpen)

            let bob = try await live.connect("bob")
            try await bob.join("news")
            var expected: [String] = []
            for index in 1...6 {
                let room = index.isMultiple(of: 2) ? "news" : "general"
                if index.isMultiple(of: 3) {
                    try await bob.say("m\(index)", in: room, ref: .int(Int64(index)))
                    let ack = try await bob.next(type: "ack") { $0["data"]?["ref"] == .int(Int64(index)) }
                    expected.append(try #require(ack["data"]?["event_id"]?.stringValue))
                } else {
                    expected.append(try await live.publish(room, ["message": .string("m\(index)")]))
                }
            }
            let received = try await inbox.messages(6)
            #expect(received.map(\.wireID) == expected)
            #expect(received.map(\.chatText) == (1...6).map { "m\($0)" })
            #expect(received.filter { $0.userID == "bob" }.count == 2)
            // Exactly once: nothing stored arrives again.
            #expect(try await inbox.storedEvents(for: .milliseconds(400)).isEmpty)
            #expect(await client.positions == ["general": EventID(expected[4])!, "news": EventID(expected[5])!])
            await bob.close()
            await client.close()
            try await inbox.waitUntilFinished()
        }
    }

    @Test(arguments: transports)
    func publishReturnsTheIDAndOthersReceiveIt(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub { live in
            let watcher = try await live.connect("watcher")
            let client = MoonwireClient(options(live.baseURL, "writer", ["general"], transport))
            let inbox = Inbox(client.events)
            try await client.connect()

            let id = try #require(try await client.publish(room: "general", data: ["message": "hello"]))
            let seen = try await watcher.next(type: "message")
            #expect(seen["event_id"]?.stringValue == id.description)
            #expect(seen["user_id"]?.stringValue == "writer")
            #expect(seen.chatText == "hello")
            // Not stored: no id.
            #expect(try await client.publish(room: "general", type: "typing", data: ["is_typing": true]) == nil)

            // The client's own event is not handed back (not even by a long-poll, which returns it), but what
            // others publish after it is.
            let later = try await live.publish("general", ["message": "from the API"])
            let next = try await inbox.messages(1)
            #expect(next.map(\.wireID) == [later])
            #expect(await client.positions["general"] == EventID(later))

            // The hub's refusal comes back as the error.
            await #expect(throws: MoonwireError.self) { try await client.publish(room: "general", type: "bogus", data: [:]) }
            do {
                try await client.publish(room: "general", type: "bogus", data: [:])
            } catch let error as MoonwireError {
                #expect(error.code == "unknown_event_type")
            }
            do {
                try await client.publish(room: "elsewhere", data: ["message": "x"])
                Issue.record("publishing to a room the client does not follow should fail")
            } catch let error as MoonwireError {
                #expect(error.code == "not_in_room")
            }
            await watcher.close()
            await client.close()
        }
    }

    @Test(arguments: transports)
    func echoHandsOwnEventsBackOnce(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub { live in
            var settings = options(live.baseURL, "echoer", ["general"], transport)
            settings.echo = true
            let client = MoonwireClient(settings)
            let inbox = Inbox(client.events)
            try await client.connect()
            let id = try #require(try await client.publish(room: "general", data: ["message": "mine"]))
            let later = try await live.publish("general", ["message": "theirs"])
            let received = try await inbox.messages(2)
            #expect(received.map(\.wireID) == [id.description, later])
            #expect(received.first?.userID == "echoer")
            #expect(try await inbox.storedEvents(for: .milliseconds(300)).isEmpty)
            await client.close()
        }
    }

    @Test(arguments: transports)
    func presenceListsTheRoom(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub { live in
            let bob = try await live.connect("bob", extra: ["rooms": ["lobby"]])
            var settings = options(live.baseURL, "alice", ["lobby"], transport)
            settings.metadata = ["name": "Alice"]
            let client = MoonwireClient(settings)
            try await client.connect()
            let users = try await client.presence(room: "lobby")
            #expect(users.map(\.userID) == ["alice", "bob"])
            let alice = try #require(users.first)
            #expect(alice.transports == [transport.rawValue])
            #expect(alice.connections == 1)
            if transport == .webSocket { #expect(alice.metadata == ["name": "Alice"]) }
            do {
                _ = try await client.presence(room: "elsewhere")
                Issue.record("presence of a room the client does not follow should fail")
            } catch let error as MoonwireError {
                #expect(error.code == "not_in_room")
            }
            await bob.close()
            await client.close()
        }
    }

    @Test(arguments: transports)
    func joinAndLeave(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub { live in
            var settings = options(live.baseURL, "mover", ["general"], transport)
            settings.replay = 2
            let client = MoonwireClient(settings)
            let inbox = Inbox(client.events)
            try await client.connect()

            // Joining replays the room's `replay` most recent events, then delivers what follows.
            var old: [String] = []
            for index in 1...3 { old.append(try await live.publish("side", ["message": .string("old\(index)")])) }
            try await client.join("side")
            #expect(await client.rooms == ["general", "side"])
            let fresh = try await live.publish("side", ["message": "new"])
            #expect(try await inbox.messages(3).map(\.wireID) == [old[1], old[2], fresh])
            let present = try await live.http.request("GET", "/api/rooms/side/presence")
            #expect(present.body?["users"]?.arrayValue?.compactMap { $0["user_id"]?.stringValue } == ["mover"])

            // After leaving, the room's events stop; the others go on.
            try await client.leave("side")
            #expect(await client.rooms == ["general"])
            _ = try await live.publish("side", ["message": "after leaving"])
            let general = try await live.publish("general", ["message": "still here"])
            #expect(try await inbox.messages(1).map(\.wireID) == [general])
            #expect(try await inbox.storedEvents(for: .milliseconds(400)).isEmpty)

            // A refused join throws, and the room is not followed.
            await #expect(throws: MoonwireError.self) { try await client.join("bad,room") }
            #expect(await client.rooms == ["general"])

            // Joined again, the room replays like a new one: the client's own events too.
            let own = try #require(try await client.publish(room: "general", data: ["message": "mine"]))
            try await client.leave("general")
            #expect(await client.rooms == [])
            if transport != .longPoll {  // (a long-poll session leaves rooms it stopped polling later)
                try await live.eventually("the client out of general") {
                    let users = try await live.http.request("GET", "/api/rooms/general/presence")
                    return users.body?["count"] == 0
                }
            }
            try await client.join("general")
            #expect(try await inbox.messages(2).map(\.wireID) == [general, own.description])
            await client.close()
        }
    }

    @Test(arguments: transports)
    func aTokenNamesTheUser(_ transport: MoonwireClient.Transport) async throws {
        let plugins = LivePlugins.shipped(["auth"], settings: ["auth": ["tokens": ["t-alice": ["user_id": "alice"]]]])
        try await withLiveHub(plugins: plugins) { live in
            let client = MoonwireClient(.init(url: live.baseURL, token: "t-alice", rooms: ["general"], transport: transport, replay: 0))
            #expect(client.options.userID == nil)
            try await client.connect()
            #expect(await client.identity == "alice")
            let id = try #require(try await client.publish(room: "general", data: ["message": "signed"]))
            let history = try await live.http.request("GET", "/api/rooms/general/history")
            let event = try #require(history.body?["events"]?.arrayValue?.last)
            #expect(event["event_id"]?.stringValue == id.description)
            #expect(event["user_id"]?.stringValue == "alice")
            #expect(try await client.presence(room: "general").map(\.userID) == ["alice"])
            await client.close()

            // A token the hub refuses ends the client instead of retrying.
            let wrong = MoonwireClient(.init(url: live.baseURL, token: "nope", rooms: ["general"], transport: transport))
            do {
                try await wrong.connect()
                Issue.record("connect should fail")
            } catch let error as MoonwireError {
                #expect(error.code == "auth_failed")
                #expect(error.isFinal)
            }
        }
    }

    @Test(arguments: transports)
    func startsWithNoRoomsAndJoinsLater(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub { live in
            let client = MoonwireClient(options(live.baseURL, "idle", [], transport))
            let inbox = Inbox(client.events)
            try await client.connect()
            #expect(await client.rooms == [])
            try await client.join("later")
            let id = try await live.publish("later", ["message": "now"])
            #expect(try await inbox.messages(1).map(\.wireID) == [id])
            await client.close()
        }
    }

    @Test(arguments: transports)
    func aJoinTheHubRefusesLeavesTheOthersRunning(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub({ $0.hub.maxRoomsPerConnection = 1 }) { live in
            let client = MoonwireClient(options(live.baseURL, "limited", ["general"], transport))
            let inbox = Inbox(client.events)
            try await client.connect()
            do {
                try await client.join("second")
                Issue.record("the hub should refuse a second room")
            } catch let error as MoonwireError {
                #expect(error.code == "room_limit")
            }
            #expect(await client.rooms == ["general"])
            #expect(await client.isOpen)
            let id = try await live.publish("general", ["message": "still going"])
            #expect(try await inbox.messages(1).map(\.wireID) == [id])
            #expect(await inbox.all { if case .status(.reconnecting) = $0 { true } else { false } }.isEmpty)
            await client.close()
        }
    }

    @Test(arguments: transports)
    func gapWhenThePositionIsOlderThanTheHistory(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub({ $0.hub.historySize = 3 }) { live in
            var ids: [String] = []
            for index in 1...6 { ids.append(try await live.publish("g", ["message": .string("e\(index)")])) }
            var settings = options(live.baseURL, "late", ["g"], transport)
            settings.since = ["g": EventID(ids[0])!]
            let client = MoonwireClient(settings)
            let inbox = Inbox(client.events)
            try await client.connect()
            let gap = try #require(try await inbox.next("a gap") { $0.gap != nil }.gap)
            #expect(gap.room == "g")
            #expect(gap.lastEventID == ids[0])
            #expect(gap.oldestRetainedID == ids[3])
            #expect(try await inbox.messages(3).map(\.wireID) == Array(ids[3...]))
            #expect(try await inbox.storedEvents(for: .milliseconds(300)).isEmpty)
            // The gap came before the replay.
            await client.close()
        }
    }

    @Test(arguments: transports)
    func resumesAfterTheHubRestarts(_ transport: MoonwireClient.Transport) async throws {
        try await withRestartableHub { hub in
            var settings = options(hub.baseURL, "survivor", ["general", "news"], transport)
            settings.reconnectMin = .seconds(2)
            settings.reconnectMax = .seconds(4)
            let client = MoonwireClient(settings)
            let inbox = Inbox(client.events)
            try await client.connect()
            let before = try await hub.publish("general", ["message": "before"])
            #expect(try await inbox.messages(1).map(\.wireID) == [before])

            try await hub.stop()
            _ = try await inbox.next("the connection lost") { if case .status(.reconnecting) = $0 { true } else { false } }
            // Published on the new hub before it listens: the client cannot be back yet, it must resume.
            var missed: [String] = []
            try await hub.start { newHub in
                for (room, text) in [("general", "missed 1"), ("news", "missed 2"), ("general", "missed 3")] {
                    let event = Event(type: .message, userID: "api", roomID: room, data: ["message": .string(text)])
                    let stored = try await newHub.publish(event, from: PublisherInfo(connection: nil, transport: .http, userID: "api"), requireKnownType: false)
                    missed.append(stored.wireID)
                }
            }

            _ = try await inbox.next(timeout: .seconds(15), "the connection back") { $0.status == .open(transport) }
            // In order within each room (a resume replays room after room).
            let received = try await inbox.messages(3)
            #expect(received.filter { $0.roomID == "general" }.map(\.wireID) == [missed[0], missed[2]])
            #expect(received.filter { $0.roomID == "news" }.map(\.wireID) == [missed[1]])
            // The new hub's history starts empty: the client's positions are from before it started. (Each
            // room's gap comes before its replay.)
            let gaps = Set(await inbox.all { $0.gap != nil }.compactMap { $0.gap?.room })
            #expect(gaps == ["general", "news"])
            #expect(try await inbox.storedEvents(for: .milliseconds(500)).isEmpty)
            let after = try await hub.publish("news", ["message": "after"])
            #expect(try await inbox.messages(1).map(\.wireID) == [after])
            await client.close()
        }
    }

    @Test(arguments: [MoonwireClient.Transport.webSocket, .sse])
    func resumesAfterTheHubCutsTheConnection(_ transport: MoonwireClient.Transport) async throws {
        // The hub drops the client as a slow consumer (close 4008 / `disconnect` slow_consumer, not final):
        // the client comes back, resumes from its position, and skips its own event that the resume replays.
        try await withLiveHub { live in
            var settings = options(live.baseURL, "cut", ["general"], transport)
            settings.reconnectMin = .seconds(1)
            let client = MoonwireClient(settings)
            let inbox = Inbox(client.events)
            try await client.connect()
            let first = try await live.publish("general", ["message": "first"])
            #expect(try await inbox.messages(1).map(\.wireID) == [first])
            let own = try #require(try await client.publish(room: "general", data: ["message": "mine"]))

            #expect(await live.hub.disconnectUser("cut", reason: .slowConsumer) == 1)
            let lost = try await inbox.next("the cut") { if case .status(.reconnecting) = $0 { true } else { false } }
            guard case .status(.reconnecting(_, _, let reason)) = lost else { return }
            #expect(reason?.closeCode == 4008)
            #expect(reason?.isFinal == false)
            // Published while the client is away (it waits at least half a second before coming back).
            let missed = try await live.publish("general", ["message": "while away"])
            _ = try await inbox.next(timeout: .seconds(10), "the connection back") { $0.status == .open(transport) }
            #expect(try await inbox.messages(1).map(\.wireID) == [missed])
            #expect(await inbox.all { $0.gap != nil }.isEmpty)
            #expect(try await inbox.storedEvents(for: .milliseconds(300)).isEmpty)
            #expect(await client.positions["general"] == EventID(missed))
            #expect(own < EventID(missed)!)
            await client.close()
        }
    }

    @Test func webSocketHeartbeatKeepsUpWithTheHubsTimeout() async throws {
        // The hub closes WebSockets silent for `heartbeat.timeout` (here 3 s); the client beats more often
        // than that even though its option says 25 s. The hub's clock is moved by the test: each time by less
        // than the timeout, then the test waits for the client's next beat.
        let clock = ManualClock()
        try await withLiveHub({ $0.hub.heartbeatTimeout = .seconds(3) }, clock: clock) { live in
            let client = MoonwireClient(options(live.baseURL, "steady", ["general"], .webSocket))
            let inbox = Inbox(client.events)
            try await client.connect()
            let connection = try #require(live.hub.connections(ofUser: "steady").first)
            for _ in 0..<3 {
                clock.advance(by: .seconds(2))
                try await live.eventually("the client's next heartbeat", timeout: .seconds(15)) { connection.silence(now: clock.now()) == 0 }
                await live.hub.sweep()
            }
            #expect(await inbox.all { if case .status(.reconnecting) = $0 { true } else { false } }.isEmpty)
            #expect(await client.isOpen)
            await client.close()
        }
    }

    @Test(arguments: [MoonwireClient.Transport.webSocket, .sse])
    func kickedClientStopsReconnecting(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub { live in
            let client = MoonwireClient(options(live.baseURL, "mallory", ["general"], transport))
            let inbox = Inbox(client.events)
            try await client.connect()
            let reply = try await live.http.request("POST", "/api/users/mallory/disconnect", json: ["reason": "go away"])
            #expect(reply.body?["disconnected"] == 1)
            let closed = try await inbox.next("the end") { if case .status(.closed) = $0 { true } else { false } }
            guard case .status(.closed(let error)) = closed else { return }
            #expect(error?.closeCode == 4004)
            #expect(error?.isFinal == true)
            try await inbox.waitUntilFinished()
            #expect(await inbox.all { if case .status(.reconnecting) = $0 { true } else { false } }.isEmpty)
            await #expect(throws: MoonwireError.self) { try await client.connect() }
        }
    }

    @Test func refusedAuthenticationIsFinal() async throws {
        try await withLiveHub { live in
            // The reserved user id: invalid_field, close 4001; connect() throws instead of retrying.
            let client = MoonwireClient(.init(url: live.baseURL, userID: "system", rooms: ["general"], transport: .webSocket))
            let inbox = Inbox(client.events)
            do {
                try await client.connect()
                Issue.record("connect should fail")
            } catch let error as MoonwireError {
                #expect(error.code == "invalid_field")
                #expect(error.closeCode == 4001)
            }
            try await inbox.waitUntilFinished()
            #expect(await inbox.all { if case .status(.reconnecting) = $0 { true } else { false } }.isEmpty)
        }
    }

    @Test(arguments: transports)
    func withoutAUserIDTheClientIsAGuest(_ transport: MoonwireClient.Transport) async throws {
        try await withLiveHub { live in
            let client = MoonwireClient(.init(url: live.baseURL, rooms: ["general"], transport: transport, replay: 0))
            let guest = try #require(client.options.userID)
            #expect(guest.hasPrefix("guest-"))
            try await client.connect()
            let id = try #require(try await client.publish(room: "general", data: ["message": "hello"]))
            let history = try await live.http.request("GET", "/api/rooms/general/history")
            let event = try #require(history.body?["events"]?.arrayValue?.last)
            #expect(event["event_id"]?.stringValue == id.description)
            #expect(event["user_id"]?.stringValue == guest)
            #expect(await client.identity == guest)
            await client.close()
        }
    }

    @Test func backoffGrowsWithJitterUpToTheMaximum() {
        let low = Backoff.delay(attempt: 1, min: .milliseconds(500), max: .seconds(15), random: 0)
        let high = Backoff.delay(attempt: 1, min: .milliseconds(500), max: .seconds(15), random: 1)
        #expect(low == .milliseconds(250))
        #expect(high == .milliseconds(500))
        #expect(Backoff.delay(attempt: 4, min: .milliseconds(500), max: .seconds(15), random: 1) == .seconds(4))
        #expect(Backoff.delay(attempt: 40, min: .milliseconds(500), max: .seconds(15), random: 1) == .seconds(15))
        #expect(Backoff.delay(attempt: 40, min: .milliseconds(500), max: .seconds(15), random: 0) == .milliseconds(7500))
    }

    private func options(_ url: String, _ user: String, _ rooms: [String], _ transport: MoonwireClient.Transport) -> MoonwireClient.Options {
        MoonwireClient.Options(
            url: url, userID: user, rooms: rooms, transport: transport, replay: 0, reconnectMin: .milliseconds(200),
            reconnectMax: .seconds(2), pollTimeout: .seconds(10))
    }
}

extension Inbox where Item == ClientEvent {
    /// The next `count` stored `message` events, in the order received.
    func messages(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [Event] {
        var events: [Event] = []
        for index in 0..<count {
            let item = try await next(timeout: timeout, "message \(index + 1) of \(count)") {
                $0.event.map { $0.type == .message && $0.isStored } ?? false
            }
            events.append(item.event!)
        }
        return events
    }

    /// Stored events that arrive within `duration`.
    func storedEvents(for duration: Duration) async throws -> [Event] {
        try await collect(for: duration) { $0.event?.isStored == true }.compactMap(\.event)
    }
}

extension Event {
    /// `data.message` of a chat event.
    var chatText: String? { data["message"]?.stringValue }
}
