import Testing
@testable import MoonwireCore

/// Rooms come from publishes and allowed joins, never from reads, and go once nobody uses them.
@Suite struct RoomLifecycleTests {
    func makeHub(historySize: Int = 10, maxBytes: Int = 0, _ configure: (inout HubConfiguration) -> Void = { _ in }) -> Hub {
        var configuration = HubConfiguration()
        configuration.historySize = historySize
        configure(&configuration)
        return Hub(configuration: configuration, broker: MemoryBroker(historySize: historySize, maxBytes: maxBytes))
    }

    func pad(_ i: Int) -> String {
        let digits = String(i)
        return String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    func publisher(_ user: String = "api") -> PublisherInfo {
        PublisherInfo(connection: nil, transport: .http, userID: user)
    }

    @Test func aRoomWithoutHistoryGoesWithItsLastMember() async throws {
        let hub = makeHub()
        let alice = try hub.connect(identity: Identity(userID: "alice"), transport: .webSocket)
        try await hub.join(alice, room: "lobby")
        #expect(hub.room("lobby") != nil)
        await hub.leave(alice, room: "lobby")
        #expect(hub.room("lobby") == nil)
        #expect(hub.statistics.snapshot().roomsRemoved == 1)
        // The permanent room stays, empty or not.
        await hub.leave(alice, room: "general")
        #expect(hub.room("general") != nil)
    }

    @Test func aRoomStaysWhileItsHistoryIsRetained() async throws {
        let size = Event(type: .message, userID: "api", roomID: "news", data: ["m": "x"]).retainedByteCount
        let hub = makeHub(maxBytes: size * 2 + 100)
        _ = try await hub.publish(Event(type: .message, userID: "api", roomID: "news", data: ["m": "x"]), from: publisher(), requireKnownType: false)
        #expect(hub.room("news") != nil)
        #expect(hub.collectUnusedRooms() == 0)
        // Pushed out by newer events elsewhere: then the room goes.
        for i in 0..<3 {
            _ = try await hub.publish(
                Event(type: .message, userID: "api", roomID: "other\(i)", data: ["m": "x"]), from: publisher(), requireKnownType: false)
        }
        #expect(!hub.broker.retainsHistory(room: "news"))
        #expect(hub.collectUnusedRooms() >= 1)
        #expect(hub.room("news") == nil)
    }

    @Test func anEphemeralPublishToAnEmptyRoomLeavesNothingBehind() async throws {
        let hub = makeHub()
        _ = try await hub.publish(Event(type: .typing, userID: "api", roomID: "ghost"), from: publisher(), requireKnownType: false)
        #expect(hub.room("ghost") == nil)
    }

    @Test func aPollWithoutASessionCreatesNoRoomAndIsWokenWhenOneIsPublished() async throws {
        let hub = makeHub()
        let anonymous = try hub.pollSession(clientID: nil, identity: Identity(userID: "reader"), remoteAddress: nil)
        let empty = try await hub.poll(PollRequest(connection: anonymous, rooms: ["a", "b", "c"], cursor: nil, timeout: .zero))
        #expect(empty.messages.isEmpty)
        #expect(hub.room("a") == nil && hub.room("b") == nil && hub.room("c") == nil)

        let waiting = Task {
            try await hub.poll(PollRequest(connection: anonymous, rooms: ["later"], cursor: nil, timeout: .seconds(30)))
        }
        // Wait until the poll waits, then publish: the poll answers with the event.
        while hub.registry.withLock({ $0.pollWaiters["later"] == nil }) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(hub.room("later") == nil)
        let published = try await hub.publish(
            Event(type: .message, userID: "api", roomID: "later", data: ["m": "hi"]), from: publisher(), requireKnownType: false)
        let answer = try await waiting.value
        #expect(answer.messages.map(\.id) == [published.id])
        #expect(hub.registry.withLock { $0.pollWaiters.isEmpty })
    }

    @Test func aPollOverTheRoomLimitIsRefusedAndCreatesNothing() async throws {
        let hub = makeHub { $0.maxRoomsPerConnection = 5 }
        let rooms = (0..<6).map { "r\($0)" }
        let session = try hub.pollSession(clientID: "c1", identity: Identity(userID: "p"), remoteAddress: nil)
        await #expect(throws: HubError.self) {
            try await hub.poll(PollRequest(connection: session, rooms: rooms, cursor: nil, timeout: .zero))
        }
        let anonymous = try hub.pollSession(clientID: nil, identity: Identity(userID: "p"), remoteAddress: nil)
        do {
            _ = try await hub.poll(PollRequest(connection: anonymous, rooms: rooms, cursor: nil, timeout: .zero))
            Issue.record("a poll of 6 rooms was answered")
        } catch {
            #expect(error.code == .roomLimit)
        }
        #expect(rooms.allSatisfy { hub.room($0) == nil })
        #expect(session.rooms.isEmpty)
        // Within the limit, a session joins (and so creates) its rooms.
        _ = try await hub.poll(PollRequest(connection: session, rooms: Array(rooms.prefix(5)), cursor: nil, timeout: .zero))
        #expect(rooms.prefix(5).allSatisfy { hub.room($0) != nil })
    }

    @Test func idsKeepIncreasingInARoomThatWasRemovedAndCreatedAgain() async throws {
        let hub = makeHub(historySize: 0)
        let first = try await hub.publish(
            Event(type: .message, userID: "api", roomID: "again", data: ["m": "1"]), from: publisher(), requireKnownType: false)
        #expect(hub.room("again") == nil, "nothing retained with history_size 0: the room goes at once")
        let second = try await hub.publish(
            Event(type: .message, userID: "api", roomID: "again", data: ["m": "2"]), from: publisher(), requireKnownType: false)
        #expect(second.id! > first.id!)
    }

    @Test func theWelcomeListsTheFirstRoomsByIDWithoutSortingThemAll() async throws {
        let hub = makeHub { $0.maxRooms = 1_000 }
        for i in (0..<300).shuffled() {
            _ = try await hub.publish(
                Event(type: .message, userID: "api", roomID: "room" + pad(i), data: [:]), from: publisher(), requireKnownType: false)
        }
        let (ids, total) = hub.firstRoomIDs(100)
        #expect(total == 301)
        #expect(ids == Array((["general"] + (0..<300).map { "room" + pad($0) }).sorted().prefix(100)))
    }
}

/// The joins and leaves of a large room, netted per user between two `presence_diff` events.
@Suite struct PresenceDiffTests {
    @Test func comingAndGoingWithinOneIntervalIsNotMentioned() {
        var diff = PresenceDiff()
        diff.record("brief", joined: true)
        diff.record("brief", joined: false)
        diff.record("back", joined: false)
        diff.record("back", joined: true)
        #expect(diff.isEmpty)
        diff.record("new", joined: true)
        diff.record("gone", joined: false)
        let data = diff.data(room: "r", users: 7, listed: 10)
        #expect(data["joins"] == ["new"])
        #expect(data["leaves"] == ["gone"])
        #expect(data["joined"] == 1 && data["left"] == 1 && data["count"] == 7)
        #expect(data["truncated"] == false)
    }

    @Test func listsAreCutButCountsAreWhole() {
        var diff = PresenceDiff()
        for i in 0..<250 { diff.record("u\(i)", joined: true) }
        let data = diff.data(room: "r", users: 400, listed: 100)
        #expect(data["joins"]?.arrayValue?.count == 100)
        #expect(data["joined"] == 250)
        #expect(data["truncated"] == true)
    }
}
