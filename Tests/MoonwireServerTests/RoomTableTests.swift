import MoonwireClient
import MoonwireCore
import Testing

/// The room table cannot be filled by anonymous clients: reads create no room, every transport obeys
/// the room limits, and rooms nobody uses any more go away. (200 long-polls naming 100 new rooms each
/// used to fill the 100,000-room cap in 6 s, for good.)
@Suite(.timeLimit(.minutes(2))) struct RoomTableTests {
    static func rooms(_ prefix: String, _ count: Int) -> String {
        (0..<count).map { "\(prefix)-\($0)" }.joined(separator: ",")
    }

    @Test func anonymousPollsCreateNoRoomWhileANormalClientIsServed() async throws {
        try await withLiveHub({ $0.hub.maxRooms = 1_000 }) { live in
            let normal = try await NormalClient.open(port: live.port)
            let before = live.hub.rooms.count
            let http = live.http
            let (statuses, _) = try await normal.keepsServing {
                try await withThrowingTaskGroup(of: [Int].self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            var statuses: [Int] = []
                            for request in 0..<25 {
                                let reply = try await http.request(
                                    "GET", "/poll?timeout=0&rooms=\(Self.rooms("w\(worker)r\(request)", 100))", timeout: .seconds(30))
                                statuses.append(reply.status)
                            }
                            return statuses
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0 += $1 }
                }
            }
            #expect(statuses.count == 200 && statuses.allSatisfy { $0 == 200 })
            // 20,000 room names read: none created, the table is as it was (and far from its 1,000 cap).
            #expect(live.hub.rooms.count == before)
            let stats = try await live.http.request("GET", "/api/stats")
            #expect(stats.body?["active_rooms"] == .int(Int64(before)))
            // A room that exists is polled as always.
            let created = try await live.publish("real", ["message": "here"])
            let answer = try await live.http.request("GET", "/poll?timeout=0&rooms=real")
            #expect(answer.body?["messages"]?.arrayValue?.first?["message_id"]?.stringValue == created)
            await normal.close()
        }
    }

    @Test func aPollOverTheRoomLimitIsRefusedAndCreatesNothing() async throws {
        try await withLiveHub { live in
            let before = live.hub.rooms.count
            for query in ["timeout=0", "timeout=0&client_id=c1&user_id=u1"] {
                let reply = try await live.http.request("GET", "/poll?\(query)&rooms=\(Self.rooms("over", 101))")
                #expect(reply.status == 429)
                #expect(reply.body?["error"]?["code"] == "room_limit", "\(reply.text)")
                #expect(live.hub.rooms.count == before, "a refused poll created rooms")
            }
            // A session may follow 100 rooms over several polls, not 101.
            let first = try await live.http.request("GET", "/poll?timeout=0&client_id=c2&user_id=u2&rooms=\(Self.rooms("a", 60))")
            #expect(first.status == 200)
            let second = try await live.http.request("GET", "/poll?timeout=0&client_id=c2&user_id=u2&rooms=\(Self.rooms("b", 41))")
            #expect(second.status == 429)
            #expect(live.hub.rooms.count == before + 60)
        }
    }

    @Test func roomsGoAwayWhenTheirLastUserLeavesAndTheirHistoryIsGone() async throws {
        try await withLiveHub({ configuration in
            configuration.hub.pollSessionTimeout = .seconds(1)
            configuration.historyMaxAge = .seconds(1)
        }) { live in
            let before = live.hub.rooms.count
            // A WebSocket client joins 50 rooms; a long-poll session 50 others; an API publish makes one more.
            let client = try await live.connect("roamer", extra: ["rooms": .array((0..<50).map { .string("ws-\($0)") })])
            try await live.eventually("the WebSocket's rooms") { live.hub.rooms.count == before + 50 }
            let polled = try await live.http.request("GET", "/poll?timeout=0&client_id=p&user_id=poller&rooms=\(Self.rooms("lp", 50))")
            #expect(polled.status == 200)
            try await live.publish("kept-a-while", ["message": "retained for a second"])
            #expect(live.hub.rooms.count == before + 101)

            await client.close()
            // The WebSocket's rooms go with it; the session's once it expires; the published room once its
            // history is older than broker.history_max_age. Every one of them, by the hub's own count.
            try await live.eventually("every room to go", timeout: .seconds(20)) { live.hub.rooms.count == before }
            let stats = try await live.http.request("GET", "/api/stats")
            #expect(stats.body?["rooms_removed"]?.intValue.map { $0 >= 101 } == true)
            #expect(stats.body?["broker"]?["retained_events"] == 0)
        }
    }
}
