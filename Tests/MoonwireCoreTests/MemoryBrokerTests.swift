import Synchronization
import Testing
@testable import MoonwireCore

/// Collects what a broker delivers.
final class RecordingSink: BrokerSink {
    let events = Mutex<[Event]>([])
    func deliver(_ event: Event) { events.withLock { $0.append(event) } }
}

@Suite struct MemoryBrokerTests {
    func message(_ text: String, room: String = "general") -> Event {
        Event(type: .message, userID: "alice", roomID: room, data: ["message": .string(text)])
    }

    @Test func storedEventsGetIncreasingIdsAndReachTheSink() async throws {
        let broker = MemoryBroker(historySize: 10)
        let sink = RecordingSink()
        broker.attach(sink)
        var ids: [EventID] = []
        for i in 0..<5 {
            let stored = try await broker.publish(message("m\(i)"), store: true)
            ids.append(try #require(stored.id))
        }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == 5)
        #expect(sink.events.withLock { $0.compactMap(\.id) } == ids)
    }

    @Test func ephemeralEventsAreDeliveredButNotStored() async throws {
        let broker = MemoryBroker(historySize: 10)
        let sink = RecordingSink()
        broker.attach(sink)
        let typing = try await broker.publish(Event(type: .typing, userID: "a", roomID: "general"), store: false)
        #expect(typing.id == nil)
        #expect(sink.events.withLock { $0.count } == 1)
        let page = try await broker.history(room: "general", .latest(10))
        #expect(page.events.isEmpty)
    }

    @Test func historyIsBoundedAndReportsGaps() async throws {
        let broker = MemoryBroker(historySize: 3)
        var ids: [EventID] = []
        for i in 0..<5 { ids.append(try #require(try await broker.publish(message("m\(i)"), store: true).id)) }

        let latest = try await broker.history(room: "general", .latest(10))
        #expect(latest.events.map { $0.data["message"]?.stringValue } == ["m2", "m3", "m4"])
        #expect(latest.head == ids[4])
        #expect(latest.oldestRetained == ids[2])

        // The client saw m1 (the last evicted one): nothing is lost.
        let fromEvicted = try await broker.history(room: "general", .after(ids[1], limit: 10))
        #expect(!fromEvicted.gap)
        #expect(fromEvicted.events.count == 3)

        // The client saw only m0: m1 is gone.
        let fromOlder = try await broker.history(room: "general", .after(ids[0], limit: 10))
        #expect(fromOlder.gap)
        #expect(fromOlder.events.map { $0.data["message"]?.stringValue } == ["m2", "m3", "m4"])

        let limited = try await broker.history(room: "general", .after(ids[2], limit: 1))
        #expect(limited.events.map { $0.id } == [ids[3]])
        #expect(limited.hasMore)

        let none = try await broker.history(room: "general", .after(ids[4], limit: 10))
        #expect(none.events.isEmpty && !none.gap && !none.hasMore)
    }

    @Test func anIDFromBeforeThisBrokerExistedIsAGap() async throws {
        let broker = MemoryBroker(historySize: 10)
        _ = try await broker.publish(message("now"), store: true)
        let old = EventID(EventID.now().value - 60_000_000)
        let page = try await broker.history(room: "general", .after(old, limit: 10))
        #expect(page.gap)
        #expect(page.events.count == 1)
        // Starting from nothing is not a gap.
        #expect(try await broker.history(room: "general", .after(nil, limit: 10)).gap == false)
        #expect(try await broker.history(room: "general", .after(.zero, limit: 10)).gap == false)
    }

    @Test func anEmptyRoomsHeadIsAValidCursor() async throws {
        let broker = MemoryBroker(historySize: 10)
        let empty = try await broker.history(room: "quiet", .latest(0))
        let page = try await broker.history(room: "quiet", .after(empty.head, limit: 10))
        #expect(!page.gap)
    }
}
