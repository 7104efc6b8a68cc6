import MoonwireClient
import MoonwireCore
import Testing

/// A join storm into one room costs a bounded number of announcements: past presence.announce_max_users
/// users, joins and leaves go out as one presence_diff per room per presence.diff_interval. (1,000 users
/// joining one room used to cause 500,000 announcements and 16.8 s of CPU, and stalled other rooms.)
@Suite(.timeLimit(.minutes(3))) struct JoinStormTests {
    /// What a watcher in the room learnt from announcements: joins and leaves counted, and how many events told it.
    struct Tally {
        var joined = 0
        var left = 0
        var individual = 0
        var diffs = 0

        mutating func add(_ event: JSONValue) {
            switch event["event_type"]?.stringValue {
            case "user_joined": joined += 1; individual += 1
            case "user_left": left += 1; individual += 1
            case "presence_diff":
                diffs += 1
                joined += Int(event["data"]?["joined"]?.intValue ?? 0)
                left += Int(event["data"]?["left"]?.intValue ?? 0)
            default: break
            }
        }
    }

    @Test func threeHundredJoinsAndLeavesReachAWatcherAsAFewDiffsWhileAnotherRoomIsServed() async throws {
        try await withLiveHub { live in
            let threshold = live.hub.configuration.announceMaxUsers
            #expect(threshold == 100)
            let watcher = try await live.connect("watcher", extra: ["rooms": ["stadium"]])
            let normal = try await NormalClient.open(port: live.port)
            let url = live.webSocketURL
            let storm = 300

            let clock = ContinuousClock()
            let started = clock.now
            let (crowd, _) = try await normal.keepsServing {
                try await withThrowingTaskGroup(of: WebSocketSession.self) { group in
                    for i in 0..<storm {
                        group.addTask {
                            let session = try await WebSocketSession.connect(
                                url: url, authFrame: ["user_id": .string("fan\(i)"), "metadata": [:], "rooms": ["stadium"]])
                            return session
                        }
                    }
                    return try await group.reduce(into: [WebSocketSession]()) { $0.append($1) }
                }
            }
            try await live.eventually("every fan in the room", timeout: .seconds(30)) { live.hub.room("stadium")?.userCount == storm + 1 }
            var tally = Tally()
            try await live.eventually("every join announced", timeout: .seconds(10)) {
                for event in try await watcher.inbox.collect(for: .milliseconds(100), where: { _ in true }) { tally.add(event) }
                return tally.joined == storm
            }
            let joinSeconds = (clock.now - started).seconds
            // At most the first users one by one (the watcher is the first of them), then a diff per interval.
            #expect(tally.individual <= threshold - 1)
            #expect(tally.diffs <= Int(joinSeconds / live.hub.configuration.presenceDiffInterval.seconds) + 2)
            #expect(tally.individual + tally.diffs < 150, "\(tally)")

            // The storm leaves, while the other room is still served.
            let leaveStarted = clock.now
            tally = Tally()
            _ = try await normal.keepsServing {
                await withTaskGroup(of: Void.self) { group in
                    for session in crowd { group.addTask { await session.close() } }
                }
            }
            try await live.eventually("every leave announced", timeout: .seconds(30)) {
                for event in try await watcher.inbox.collect(for: .milliseconds(100), where: { _ in true }) { tally.add(event) }
                return tally.left == storm
            }
            let leaveSeconds = (clock.now - leaveStarted).seconds
            #expect(tally.joined == 0)
            // Leaves below the threshold are announced one by one again (once the last diff is out).
            #expect(tally.individual <= threshold)
            #expect(tally.diffs <= Int(leaveSeconds / live.hub.configuration.presenceDiffInterval.seconds) + 2)
            await watcher.close()
            await normal.close()
        }
    }

    @Test func aDiffListsAtMostTheThresholdOfUsersAndCountsThemAll() async throws {
        try await withLiveHub({ configuration in
            configuration.hub.announceMaxUsers = 3
            configuration.hub.presenceDiffInterval = .milliseconds(300)
        }) { live in
            let watcher = try await live.connect("watcher", extra: ["rooms": ["hall"]])
            var others: [WebSocketProbe] = []
            for name in ["a", "b"] { others.append(try await live.connect(name, extra: ["rooms": ["hall"]])) }
            // Up to three users: one by one, as the seed announces them.
            _ = try await watcher.next(type: "user_joined") { $0["user_id"] == "a" }
            _ = try await watcher.next(type: "user_joined") { $0["user_id"] == "b" }
            // Past three: diffs from the hub, each listing at most three users and counting them all.
            for i in 0..<12 { others.append(try await live.connect("late\(i < 10 ? "0" : "")\(i)", extra: ["rooms": ["hall"]])) }
            var joined = 0
            var listed: [String] = []
            while joined < 12 {
                let diff = try await watcher.next(type: "presence_diff", timeout: .seconds(10))
                #expect(diff["user_id"] == "system")
                #expect(diff["data"]?["room_id"] == "hall")
                let joins = diff["data"]?["joins"]?.arrayValue?.compactMap(\.stringValue) ?? []
                let count = Int(diff["data"]?["joined"]?.intValue ?? 0)
                #expect(joins.count == min(count, 3))
                #expect(joins == joins.sorted())
                #expect(diff["data"]?["truncated"] == .bool(count > 3))
                #expect(diff["data"]?["left"] == 0)
                #expect(diff["data"]?["count"]?.intValue.map { $0 >= 3 } == true)
                joined += count
                listed += joins
            }
            #expect(joined == 12)
            #expect(Set(listed).isSubset(of: Set((0..<12).map { "late\($0 < 10 ? "0" : "")\($0)" })))
            #expect(try await watcher.collect(type: "user_joined", for: .milliseconds(400)).isEmpty)
            for other in others { await other.close() }
            await watcher.close()
        }
    }
}
