import Testing
@testable import MoonwireCore

/// The embedded brokers' room histories: the hub-wide byte cap, and rooms forgotten and started again.
@Suite struct StreamTableTests {
    func event(_ room: String, bytes: Int) -> Event {
        Event(type: .message, userID: "u", roomID: room, data: ["pad": .string(String(repeating: "x", count: bytes))])
    }

    @Test func theByteCapEvictsTheOldestEventsAcrossRooms() async throws {
        func name(_ room: Int) -> String { room < 10 ? "room0\(room)" : "room\(room)" }
        let size = event("room00", bytes: 10_000).retainedByteCount
        let broker = MemoryBroker(historySize: 100, maxBytes: size * 10)
        var ids: [String: [EventID]] = [:]
        // 20 rooms × 5 events, in turns: 100 events, room for 10.
        for round in 0..<5 {
            for room in 0..<20 {
                let stored = broker.publishNow(event(name(room), bytes: 10_000), store: true)
                ids[name(room), default: []].append(try #require(stored.id))
                _ = round
            }
        }
        let statistics = await broker.statistics()
        #expect(statistics.retainedEvents == 10)
        #expect(statistics.details["retained_bytes"]?.intValue.map { $0 <= Int64(size * 10) } == true)
        // The newest 10 are kept: the last round's rooms 10...19.
        for room in 0..<20 {
            let page = try await broker.history(room: name(room), .after(ids[name(room)]![0], limit: 100))
            #expect(page.events.map(\.id) == (room >= 10 ? [ids[name(room)]![4]] : []))
            // A resume from the first event of the room was cut: it is told so.
            #expect(page.gap)
        }
    }

    @Test func evictionsByARoomsOwnLimitsLeaveTheCapAccountRight() async throws {
        let size = event("busy", bytes: 1_000).retainedByteCount
        let broker = MemoryBroker(historySize: 3, maxBytes: size * 100)
        for _ in 0..<1_000 { broker.publishNow(event("busy", bytes: 1_000), store: true) }
        let statistics = await broker.statistics()
        #expect(statistics.retainedEvents == 3)
        #expect(statistics.details["retained_bytes"] == .int(Int64(size * 3)))
    }

    @Test func aForgottenRoomGoesOnWithHigherIdsAndReportsTheGap() async throws {
        let table = StreamTable(limits: .init(eventsPerRoom: 0), floor: EventID(100))
        // history_size 0: nothing is retained, so the stream can be forgotten at once.
        let first = table.withStream("r", create: true) { $0.append(event("r", bytes: 1)) }!
        #expect(!table.retains("r"))
        #expect(table.forget("r"))
        #expect(table.streamCount == 0)
        #expect(table.base(for: "r") == first.id!)
        // Reading does not bring the stream back; a resume from before the forgotten id is a gap.
        let page = table.read("r", .after(EventID(150), limit: 10))
        #expect(page.gap)
        #expect(table.streamCount == 0)
        #expect(!table.read("r", .after(first.id!, limit: 10)).gap)
        let second = table.withStream("r", create: true) { $0.append(event("r", bytes: 1)) }!
        #expect(second.id! > first.id!)
    }

    @Test func aStreamThatRetainsEventsIsNotForgotten() {
        let table = StreamTable(limits: .init(eventsPerRoom: 10), floor: .zero)
        _ = table.withStream("r", create: true) { $0.append(event("r", bytes: 1)) }
        #expect(table.retains("r"))
        #expect(!table.forget("r"))
        #expect(table.roomsWithEvents() == ["r"])
    }

    @Test func pastTheirLimitForgottenRoomsShareOneFloor() {
        let table = StreamTable(limits: .init(eventsPerRoom: 0, maxForgottenRooms: 10), floor: EventID(1))
        var heads: [EventID] = []
        for i in 0..<30 {
            let stored = table.withStream("r\(i)", create: true) { $0.append(event("r\(i)", bytes: 1)) }!
            heads.append(stored.id!)
            #expect(table.forget("r\(i)"))
        }
        // The newest 10 are remembered one by one; the others read from the floor, which is at least
        // the newest id folded into it.
        #expect(table.base(for: "r29") == heads[29])
        #expect(table.base(for: "r20") == heads[20])
        #expect(table.base(for: "r0") >= heads[19])
        #expect(table.base(for: "never-seen") >= heads[19])
    }
}
