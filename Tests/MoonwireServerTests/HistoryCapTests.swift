import Foundation
import Logging
import MoonwireClient
import MoonwireCore
import MoonwireSQLite
import Testing

/// Room history has a hub-wide byte cap (broker.history_max_bytes), evicting the oldest events first
/// across rooms, and /api/stats stays linear in the number of rooms. (One client cycling 20 rooms ×
/// 100 × 60 KB used to add 117 MiB for good; /api/stats cost 10.9 s of CPU at 20,000 rooms.)
@Suite(.timeLimit(.minutes(3))) struct HistoryCapTests {
    static let payload = String(repeating: "h", count: 60_000)

    @Test func cyclingRoomsWithLargeEventsStaysWithinTheCapAndResumesGetAGap() async throws {
        let cap = 8 << 20
        try await withLiveHub({ $0.historyMaxBytes = cap }) { live in
            let normal = try await NormalClient.open(port: live.port)
            let http = live.http
            let first = try await live.publish("cycle-0", ["message": .string(Self.payload)])
            let (peak, _) = try await normal.keepsServing {
                var peak = 0
                for round in 0..<60 {
                    for room in 0..<20 {
                        let reply = try await http.request(
                            "POST", "/api/publish",
                            json: ["room": .string("cycle-\(room)"), "user_id": "cycler", "data": ["message": .string(Self.payload)]],
                            timeout: .seconds(30))
                        guard reply.status == 200 else { throw ProbeError.unexpected("publish: \(reply.status) \(reply.text)") }
                    }
                    if round % 10 == 9 {
                        let stats = try await http.request("GET", "/api/stats")
                        peak = max(peak, Int(stats.body?["broker"]?["retained_bytes"]?.intValue ?? .max))
                    }
                }
                return peak
            }
            // 1,200 events of 60 KB (70 MiB) went through; the hub kept at most the cap, by its own count.
            #expect(peak <= cap)
            let stats = try await live.http.request("GET", "/api/stats")
            let retained = Int(stats.body?["broker"]?["retained_bytes"]?.intValue ?? -1)
            #expect(retained > cap / 2 && retained <= cap)
            #expect(stats.body?["broker"]?["max_bytes"] == .int(Int64(cap)))
            // Evicted oldest first, across rooms: every room keeps its newest events (about 8 MiB / 60 KB
            // = 139 in all), and a client resuming from the very first one is told of the gap, then gets
            // what is retained.
            var kept = 0
            for room in 0..<20 {
                let history = try await live.http.request("GET", "/api/rooms/cycle-\(room)/history?limit=1000")
                let count = history.body?["events"]?.arrayValue?.count ?? 0
                #expect(count >= 3, "cycle-\(room) keeps \(count)")
                kept += count
            }
            #expect(kept > 100 && kept < 140, "\(kept) events of 60 KB kept in 8 MiB")
            let resumed = try await live.stream("/events?user_id=late&rooms=cycle-0", lastEventID: first)
            let gap = try await resumed.next(event: "gap", timeout: .seconds(10))
            #expect(gap.json?["data"]?["last_event_id"]?.stringValue == first)
            _ = try await resumed.next(event: "message", timeout: .seconds(10))
            resumed.close()
            await normal.close()
        }
    }

    @Test func statsAtTwentyThousandRoomsIsAnsweredWhileANormalClientIsServed() async throws {
        try await withLiveHub { live in
            // 20,000 rooms, each with one event, through /api/broadcast (1,000 rooms a request).
            for batch in 0..<20 {
                let rooms: [JSONValue] = (0..<1_000).map { .string("many-\(batch)-\($0)") }
                let reply = try await live.http.request(
                    "POST", "/api/broadcast", json: ["rooms": .array(rooms), "event_type": "message", "data": ["message": "hi"]],
                    timeout: .seconds(60))
                #expect(reply.status == 200)
            }
            #expect(live.hub.rooms.count == 20_001)
            let normal = try await NormalClient.open(port: live.port)
            let http = live.http
            let (answers, _) = try await normal.keepsServing {
                try await withThrowingTaskGroup(of: HubHTTPClient.Reply.self) { group in
                    for _ in 0..<4 { group.addTask { try await http.request("GET", "/api/stats", timeout: .seconds(30)) } }
                    return try await group.reduce(into: [HubHTTPClient.Reply]()) { $0.append($1) }
                }
            }
            for answer in answers {
                #expect(answer.status == 200)
                #expect(answer.body?["active_rooms"] == 20_002)
                #expect(answer.body?["room_stats"]?.objectValue?.count == 20_002)
            }
            await normal.close()
        }
    }

    @Test func theSQLiteBrokersMemoryCopyHasTheCapAndItsRestoredRoomsAreVisible() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("moonwire-cap-\(RandomID.token(length: 8)).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        var options = SQLiteBroker.Options(path: path)
        options.historySize = 100
        let size = Event(type: .message, userID: "u", roomID: "room-0", data: ["message": .string(Self.payload)]).retainedByteCount
        options.maxBytes = size * 10
        let broker = try await SQLiteBroker.open(options: options)
        for round in 0..<3 {
            for room in 0..<10 {
                _ = try await broker.publish(
                    Event(type: .message, userID: "u", roomID: "room-\(room)", data: ["message": .string(Self.payload)]), store: true)
                _ = round
            }
        }
        let statistics = await broker.statistics()
        #expect(statistics.retainedEvents == 10)
        #expect((statistics.details["retained_bytes"]?.intValue ?? .max) <= Int64(size * 10))
        #expect(Set(broker.roomsWithHistory()) == Set((0..<10).map { "room-\($0)" }))
        await broker.shutdown()

        // After a restart the hub lists the rooms the file holds, before any client touches them.
        let node = try HubNode("restored", ["--broker", "sqlite:\(path)"])
        try await node.start()
        do {
            let rooms = try await node.http.request("GET", "/api/rooms")
            let ids = Set(rooms.body?["rooms"]?.arrayValue?.compactMap { $0["room_id"]?.stringValue } ?? [])
            #expect(ids.isSuperset(of: (0..<10).map { "room-\($0)" }))
            let room = try await node.http.request("GET", "/api/rooms/room-3")
            #expect(room.status == 200)
            let history = try await node.http.request("GET", "/api/rooms/room-3/history")
            #expect(history.body?["events"]?.arrayValue?.count == 3, "the file keeps history_size per room")
        } catch {
            try? await node.kill()
            throw error
        }
        try await node.stop()
    }
}
