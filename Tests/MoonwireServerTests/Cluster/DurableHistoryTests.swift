import Foundation
import MoonwireClient
import MoonwireCore
import Testing

/// One node with its history in a SQLite file, restarted.
@Suite(.timeLimit(.minutes(1))) struct DurableHistoryTests {
    @Test(arguments: [false, true])
    func clientsResumeAcrossARestartWithNothingLost(_ killed: Bool) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("moonwire-restart-\(RandomID.token(length: 8)).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let node = try HubNode("single", ["--broker", "sqlite:\(path)"])
        try await node.start()
        do {
            let stream = try await node.stream("/events?user_id=reader&rooms=news")
            try await stream.next(event: "notification")
            var ids: [String] = []
            for i in 0..<3 { ids.append(try await node.publish("news", ["message": .string("m\(i)")])) }
            for id in ids { #expect(try await stream.next(event: "message").id == id) }
            stream.close()
            // Published after the client went away, before the restart.
            var missed: [String] = []
            for i in 3..<5 { missed.append(try await node.publish("news", ["message": .string("m\(i)")])) }

            if killed { try await node.kill() } else { try await node.stop() }
            try await node.start()

            let resumed = try await node.stream("/events?user_id=reader&rooms=news", lastEventID: ids.last)
            var replayed: [String] = []
            for _ in 0..<2 { replayed.append(try #require(try await resumed.next(event: "message").id)) }
            #expect(replayed == missed)
            #expect(try await resumed.inbox.collect(for: .milliseconds(300)) { $0.event == "gap" || $0.event == "message" }.isEmpty)
            let next = try await node.publish("news", ["message": "after the restart"])
            #expect(try await resumed.next(event: "message").id == next)
            #expect(EventID(next)!.value > EventID(missed.last!)!.value, "ids go on increasing")
            let history = try await node.http.request("GET", "/api/rooms/news/history")
            #expect(history.body?["events"]?.arrayValue?.compactMap { $0["event_id"]?.stringValue } == ids + missed + [next])
            resumed.close()
            let stats = try await node.stats()
            #expect(stats["broker"]?["kind"] == "sqlite")
        } catch {
            try? await node.kill()
            throw error
        }
        try await node.stop()
    }
}
