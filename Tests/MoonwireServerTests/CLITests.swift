import Foundation
import MoonwireClient
import MoonwireCore
import Testing

/// `moonwire sub` and `moonwire pub`, run as the built binary against a live hub.
@Suite(.timeLimit(.minutes(2))) struct CLITests {
    @Test(arguments: ["ws", "sse", "poll"])
    func subPrintsEventsAsJSONLines(_ transport: String) async throws {
        try await withLiveHub { live in
            let sub = try CommandRun(["sub", "general", "--count", "2", "--transport", transport, "--url", live.baseURL])
            try await sub.waitForStderr("connected over \(transport)")
            let first = try await live.publish("general", ["message": "one"], user: "ann")
            let second = try await live.publish("general", ["n": 2], type: "order.created")
            #expect(try await sub.exitStatus() == 0)
            let printed = try sub.lines.map { try JSONParser().parse($0) }
            let history = try await live.http.request("GET", "/api/rooms/general/history")
            let stored = try #require(history.body?["events"]?.arrayValue)
            #expect(printed.map { $0["event_id"]?.stringValue } == [first, second])
            // Each line is the event's wire JSON, as the hub stores it.
            #expect(printed == stored)
            #expect(sub.lines.first?.hasPrefix(#"{"event_id":""#) == true)
        }
    }

    @Test func subReplaysRecentEventsAndStopsOnSIGINT() async throws {
        try await withLiveHub { live in
            let old = [
                try await live.publish("news", ["message": "a"]),
                try await live.publish("news", ["message": "b"]),
                try await live.publish("news", ["message": "c"]),
            ]
            let sub = try CommandRun(["sub", "news", "--replay", "2", "--url", live.baseURL])
            try await sub.waitForStderr("connected over ws")
            try await live.eventually("the replay printed") { sub.lines.count == 2 }
            sub.interrupt()
            #expect(try await sub.exitStatus() == 0)
            #expect(sub.lines.compactMap { try? JSONParser().parse($0)["event_id"]?.stringValue } == Array(old[1...]))
        }
    }

    @Test func subReportsReconnectsAndGapsOnStderr() async throws {
        try await withRestartableHub { hub in
            let sub = try CommandRun(["sub", "general", "--count", "2", "--transport", "sse", "--url", hub.baseURL])
            try await sub.waitForStderr("connected over sse")
            let before = try await hub.publish("general", ["message": "before"])
            try await hub.live.eventually("the first line") { sub.lines.count == 1 }
            try await hub.stop()
            try await sub.waitForStderr("reconnecting")
            try await hub.start()
            let after = try await hub.publish("general", ["message": "after"])
            #expect(try await sub.exitStatus() == 0)
            #expect(sub.lines.compactMap { try? JSONParser().parse($0)["event_id"]?.stringValue } == [before, after])
            #expect(sub.stderr.contains("gap in general"))
        }
    }

    @Test func pubThroughTheServerAPI() async throws {
        try await withLiveHub { live in
            let watcher = try await live.connect("watcher")
            let result = try await CommandRun.run(["pub", "general", "--type", "alert", #"{"level":"high"}"#, "--url", live.baseURL])
            #expect(result.status == 0, "\(result.stderr)")
            let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(EventID(id) != nil)
            let seen = try await watcher.next(type: "alert")
            #expect(seen["event_id"]?.stringValue == id)
            #expect(seen["user_id"]?.stringValue == "system")
            #expect(seen["data"] == ["level": "high"])
            await watcher.close()
        }
    }

    @Test func pubThroughTheServerAPIWithItsKey() async throws {
        try await withLiveHub({ $0.apiKey = "sekrit" }) { live in
            let refused = try await CommandRun.run(["pub", "general", #"{"message":"hi"}"#, "--url", live.baseURL])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("unauthorized"))
            #expect(refused.stdout.isEmpty)
            let accepted = try await CommandRun.run(["pub", "general", #"{"message":"hi"}"#, "--api-key", "sekrit", "--user", "ops", "--url", live.baseURL])
            #expect(accepted.status == 0, "\(accepted.stderr)")
            let id = accepted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let history = try await live.http.request("GET", "/api/rooms/general/history", headers: [("X-API-Key", "sekrit")])
            let event = try #require(history.body?["events"]?.arrayValue?.last)
            #expect(event["event_id"]?.stringValue == id)
            #expect(event["user_id"]?.stringValue == "ops")
        }
    }

    @Test(arguments: ["ws", "sse", "poll"])
    func pubThroughAConnection(_ transport: String) async throws {
        try await withLiveHub { live in
            let watcher = try await live.connect("watcher")
            let result = try await CommandRun.run(
                ["pub", "general", #"{"message":"via \#(transport)"}"#, "--transport", transport, "--user", "carol", "--url", live.baseURL])
            #expect(result.status == 0, "\(result.stderr)")
            let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(EventID(id) != nil)
            let seen = try await watcher.next(type: "message")
            #expect(seen["event_id"]?.stringValue == id)
            #expect(seen["user_id"]?.stringValue == "carol")
            #expect(seen.chatText == "via \(transport)")
            await watcher.close()
        }
    }

    @Test func pubOfAnUnknownTypeFailsWithTheHubsError() async throws {
        try await withLiveHub { live in
            let result = try await CommandRun.run(
                ["pub", "general", "--type", "bogus", #"{"x":1}"#, "--transport", "ws", "--user", "carol", "--url", live.baseURL])
            #expect(result.status != 0)
            #expect(result.stderr.contains("unknown_event_type"))
            #expect(result.stderr.contains("unknown event type 'bogus'"))
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func pubRefusesDataThatIsNotAnObject() async throws {
        let result = try await CommandRun.run(["pub", "general", "[1,2]", "--url", "http://127.0.0.1:9"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("DATA must be a JSON object"))
    }

    @Test func pubToAnUnreachableHubFails() async throws {
        for arguments in [[String](), ["--transport", "ws"], ["--transport", "sse"], ["--transport", "poll"]] {
            let result = try await CommandRun.run(["pub", "general", "{}", "--url", "http://127.0.0.1:9"] + arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains("unreachable"), "\(arguments): \(result.stderr)")
        }
    }
}
