import Foundation
import MoonwireCore
import Testing

/// What every broker (memory, SQLite, Redis) must do: the `Broker` contract, run against each.
@Suite(.timeLimit(.minutes(1))) struct BrokerConformanceTests {
    func message(_ text: String, room: String = "general", user: String = "alice") -> Event {
        Event(type: .message, userID: user, roomID: room, data: ["message": .string(text)])
    }

    @Test(arguments: BrokerKind.allCases)
    func storedEventsGetIncreasingIdsAndReachTheSinkInOrder(_ kind: BrokerKind) async throws {
        try await withBroker(kind) { broker, sink, _ in
            try await broker.subscribe(room: "general")
            var ids: [EventID] = []
            for i in 0..<5 {
                let stored = try await broker.publish(message("m\(i)"), store: true)
                ids.append(try #require(stored.id))
                #expect(stored.ephemeralID.isEmpty)
            }
            #expect(ids == ids.sorted() && Set(ids).count == 5)
            try await waitUntil("5 deliveries") { sink.stored(in: "general").count == 5 }
            #expect(sink.stored(in: "general").compactMap(\.id) == ids)
            let page = try await broker.history(room: "general", .latest(10))
            #expect(page.events.compactMap(\.id) == ids)
            #expect(page.head == ids.last)
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func historyPagesBackwardsBeforeAnId(_ kind: BrokerKind) async throws {
        try await withBroker(kind) { broker, _, _ in
            var ids: [EventID] = []
            for i in 0..<5 { ids.append(try #require(try await broker.publish(message("m\(i)"), store: true).id)) }
            let middle = try await broker.history(room: "general", .before(ids[3], limit: 2))
            #expect(middle.events.compactMap(\.id) == [ids[1], ids[2]])
            #expect(middle.hasMore)
            let first = try await broker.history(room: "general", .before(ids[1], limit: 2))
            #expect(first.events.compactMap(\.id) == [ids[0]])
            #expect(!first.hasMore)
            let newest = try await broker.history(room: "general", .before(EventID(Int64.max), limit: 3))
            #expect(newest.events.compactMap(\.id) == Array(ids[2...]))
            #expect(newest.hasMore)
            #expect(try await broker.history(room: "nowhere", .before(ids[4], limit: 3)).events.isEmpty)
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func eventsKeepTheirFieldsThroughStorageAndDelivery(_ kind: BrokerKind) async throws {
        try await withBroker(kind) { broker, sink, _ in
            try await broker.subscribe(room: "r/ü")
            var event = Event(
                type: "order.created", userID: "bob \"the\" builder", roomID: "r/ü",
                data: ["n": 1, "x": 2.5, "s": "héllo\n\"world\"", "a": [true, nil, ["k": "v"]]])
            event.origin = "conn-1"
            let stored = try await broker.publish(event, store: true)
            let typing = try await broker.publish(Event(type: .typing, userID: "bob", roomID: "r/ü", data: ["typing": true]), store: false)
            try await waitUntil("both deliveries") { sink.events.withLock { $0.count } == 2 }
            let delivered = sink.events.withLock { $0 }
            let fromHistory = try #require(try await broker.history(room: "r/ü", .latest(1)).events.first)
            for copy in [delivered[0], fromHistory] {
                #expect(copy.id == stored.id)
                #expect(copy.type == event.type)
                #expect(copy.userID == event.userID)
                #expect(copy.data == event.data)
                #expect(copy.timestamp == event.timestamp)
                #expect(copy.jsonBytes == stored.jsonBytes)
            }
            #expect(delivered[0].origin == "conn-1")
            #expect(delivered[1].id == nil)
            #expect(delivered[1].wireID == typing.wireID, "an ephemeral event has one id everywhere")
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func ephemeralEventsAreDeliveredButNotStored(_ kind: BrokerKind) async throws {
        try await withBroker(kind) { broker, sink, _ in
            try await broker.subscribe(room: "general")
            let typing = try await broker.publish(Event(type: .typing, userID: "a", roomID: "general"), store: false)
            #expect(typing.id == nil)
            try await waitUntil("the delivery") { sink.events.withLock { $0.count } == 1 }
            #expect(try await broker.history(room: "general", .latest(10)).events.isEmpty)
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func historyIsBoundedAndReportsGaps(_ kind: BrokerKind) async throws {
        try await withBroker(kind, historySize: 3) { broker, _, _ in
            var ids: [EventID] = []
            for i in 0..<5 { ids.append(try #require(try await broker.publish(message("m\(i)"), store: true).id)) }

            let latest = try await broker.history(room: "general", .latest(10))
            #expect(latest.events.map { $0.data["message"]?.stringValue } == ["m2", "m3", "m4"])
            #expect(latest.head == ids[4])
            #expect(latest.oldestRetained == ids[2])
            #expect(try await broker.history(room: "general", .latest(2)).events.compactMap(\.id) == [ids[3], ids[4]])

            // The client saw m1 (the last evicted one): nothing is lost.
            let fromEvicted = try await broker.history(room: "general", .after(ids[1], limit: 10))
            #expect(!fromEvicted.gap)
            #expect(fromEvicted.events.count == 3)
            // The client saw only m0: m1 is gone.
            let fromOlder = try await broker.history(room: "general", .after(ids[0], limit: 10))
            #expect(fromOlder.gap)
            #expect(fromOlder.events.map { $0.data["message"]?.stringValue } == ["m2", "m3", "m4"])

            let limited = try await broker.history(room: "general", .after(ids[2], limit: 1))
            #expect(limited.events.map(\.id) == [ids[3]])
            #expect(limited.hasMore)
            let none = try await broker.history(room: "general", .after(ids[4], limit: 10))
            #expect(none.events.isEmpty && !none.gap && !none.hasMore)
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func anIDFromBeforeTheBrokerExistedIsAGap(_ kind: BrokerKind) async throws {
        try await withBroker(kind) { broker, _, _ in
            _ = try await broker.publish(message("now"), store: true)
            let old = EventID(EventID.now().value - 60_000_000)
            let page = try await broker.history(room: "general", .after(old, limit: 10))
            #expect(page.gap)
            #expect(page.events.count == 1)
            #expect(try await broker.history(room: "general", .after(nil, limit: 10)).gap == false)
            #expect(try await broker.history(room: "general", .after(.zero, limit: 10)).gap == false)
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func anEmptyRoomsHeadIsAValidCursor(_ kind: BrokerKind) async throws {
        try await withBroker(kind) { broker, _, _ in
            let empty = try await broker.history(room: "quiet", .latest(0))
            #expect(try await broker.history(room: "quiet", .after(empty.head, limit: 10)).gap == false)
            let first = try #require(try await broker.publish(message("first", room: "quiet"), store: true).id)
            #expect(first > empty.head, "the first event comes after the head a client was given")
            let page = try await broker.history(room: "quiet", .after(empty.head, limit: 10))
            #expect(!page.gap && page.events.map(\.id) == [first])
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func concurrentPublishersKeepEachRoomInOrder(_ kind: BrokerKind) async throws {
        try await withBroker(kind, historySize: 200) { broker, sink, _ in
            let rooms = ["a", "b", "c"]
            for room in rooms { try await broker.subscribe(room: room) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for room in rooms {
                    for writer in 0..<3 {
                        group.addTask {
                            for i in 0..<20 { _ = try await broker.publish(self.message("\(writer)-\(i)", room: room), store: true) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await waitUntil("180 deliveries") { sink.events.withLock { $0.count } == 180 }
            for room in rooms {
                let delivered = sink.stored(in: room).compactMap(\.id)
                #expect(delivered.count == 60)
                #expect(zip(delivered, delivered.dropFirst()).allSatisfy { $0 < $1 }, "room \(room) delivered in id order")
                #expect(try await broker.history(room: room, .latest(100)).events.compactMap(\.id) == delivered)
            }
        }
    }

    @Test(arguments: BrokerKind.allCases)
    func eventsPastTheAgeLimitLeaveHistory(_ kind: BrokerKind) async throws {
        // Ages in real time (Redis keeps its own clock): the checks between the two waits have the whole
        // age limit, 3 s, to run before the fresh event ages out too.
        try await withBroker(kind, maxAge: .seconds(3)) { broker, _, _ in
            let old = try #require(try await broker.publish(message("old"), store: true).id)
            try await Task.sleep(for: .milliseconds(3200))
            let fresh = try #require(try await broker.publish(message("fresh"), store: true).id)
            let page = try await broker.history(room: "general", .latest(10))
            #expect(page.events.map(\.id) == [fresh])
            #expect(try await broker.history(room: "general", .after(old, limit: 10)).gap == false, "the client has the old one")
            let before = EventID(old.value - 1)
            #expect(try await broker.history(room: "general", .after(before, limit: 10)).gap, "the old one is gone")
            try await Task.sleep(for: .milliseconds(3200))
            #expect(try await broker.history(room: "general", .latest(10)).events.isEmpty, "expired without a new publish")
        }
    }

    @Test(arguments: BrokerKind.allCases.filter(\.isDurable))
    func historyOutlivesTheBrokerAndIdsGoOn(_ kind: BrokerKind) async throws {
        try await withBroker(kind, historySize: 3) { broker, _, fixture in
            var ids: [EventID] = []
            for i in 0..<4 { ids.append(try #require(try await broker.publish(message("m\(i)"), store: true).id)) }
            if kind == .sqlite { await broker.shutdown() }
            let again = try await fixture.open(sink: CollectingSink())
            let page = try await again.history(room: "general", .after(ids[1], limit: 10))
            #expect(page.events.map(\.id) == [ids[2], ids[3]])
            #expect(page.events.map { $0.data["message"]?.stringValue } == ["m2", "m3"])
            #expect(!page.gap)
            #expect(try await again.history(room: "general", .after(ids[0], limit: 10)).gap == false, "m0 is the last evicted")
            #expect(try await again.history(room: "general", .after(EventID(ids[0].value - 1), limit: 10)).gap, "m0 is gone")
            let next = try #require(try await again.publish(message("m4"), store: true).id)
            #expect(next > ids[3])
            #expect(try await again.history(room: "general", .latest(10)).events.map(\.id) == [ids[2], ids[3], next])
        }
    }
}
