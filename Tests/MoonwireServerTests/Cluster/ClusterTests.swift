import Foundation
import MoonwireClient
import MoonwireCore
import Testing

/// Several `moonwire serve` processes on one real Redis act as one hub.
@Suite(.timeLimit(.minutes(2))) struct ClusterTests {
    @Test func anEventPublishedOnOneNodeReachesTheOthersOverEveryTransport() async throws {
        try await withRedisServer { redis in
            try await withCluster(3, redis: redis) { nodes in
                let webSocket = try await nodes[1].connect("ws-user")
                let sse = try await nodes[2].stream("/events?user_id=sse-user&rooms=general")
                try await sse.next(event: "notification")
                let cursor = try await nodes[1].poll("client_id=lp&user_id=lp-user&rooms=general&timeout=0")["last_message_id"]?.stringValue
                let poll = Task { try await nodes[1].poll("client_id=lp&user_id=lp-user&rooms=general&timeout=10&last_message_id=\(cursor ?? "")") }
                try await nodes[1].eventually("the poll to wait") { try await nodes[1].stats()["active_clients"] == 1 }

                let id = try await nodes[0].publish("general", ["message": "to everyone"])
                let overWebSocket = try await webSocket.next(type: "message")
                #expect(overWebSocket["event_id"]?.stringValue == id)
                #expect(overWebSocket.chatText == "to everyone")
                let overSSE = try await sse.next(event: "message")
                #expect(overSSE.id == id)
                let polled = try await poll.value
                #expect(polled["messages"]?.arrayValue?.map { $0["event_id"]?.stringValue } == [id])

                // And back: a WebSocket client's message on node 2 reaches node 3, with the same id in every history.
                try await webSocket.say("from node 2", ref: "r1")
                let ack = try await webSocket.next(type: "ack")
                let ackID = try #require(ack["data"]?["event_id"]?.stringValue)
                #expect(try await sse.next(event: "message").id == ackID)
                for node in nodes {
                    let history = try await node.http.request("GET", "/api/rooms/general/history")
                    #expect(history.body?["events"]?.arrayValue?.compactMap { $0["event_id"]?.stringValue } == [id, ackID])
                }
                await webSocket.close()
                sse.close()
            }
        }
    }

    @Test func aClientResumesOnAnotherNodeWithNothingLostOrRepeated() async throws {
        try await withRedisServer { redis in
            try await withCluster(2, redis: redis) { nodes in
                let first = try await nodes[0].stream("/events?user_id=roamer&rooms=news")
                try await first.next(event: "notification")
                let seen = [try await nodes[0].publish("news", ["message": "a"]), try await nodes[1].publish("news", ["message": "b"])]
                #expect(try await first.next(event: "message").id == seen[0])
                let last = try await first.next(event: "message")
                #expect(last.id == seen[1])
                first.close()
                var missed: [String] = []
                for text in ["c", "d", "e"] { missed.append(try await nodes[0].publish("news", ["message": .string(text)])) }

                // SSE on the other node, with the Last-Event-ID the first stream gave.
                let resumed = try await nodes[1].stream("/events?user_id=roamer&rooms=news", lastEventID: last.id)
                var replayed: [String] = []
                for _ in 0..<3 { replayed.append(try #require(try await resumed.next(event: "message").id)) }
                #expect(replayed == missed)
                #expect(try await resumed.inbox.collect(for: .milliseconds(300)) { $0.event == "message" || $0.event == "gap" }.isEmpty)
                resumed.close()

                // A WebSocket join with `since` on the first node.
                let socket = try await nodes[0].connect("roamer")
                try await socket.join("news", since: seen[1])
                let events = try await socket.collect(type: "message", for: .milliseconds(500))
                #expect(events.compactMap { $0["event_id"]?.stringValue } == missed)
                #expect(try await socket.collect(type: "gap", for: .milliseconds(50)).isEmpty)
                await socket.close()
            }
        }
    }

    @Test func longPollsAlternatingBetweenNodesMissAndRepeatNothing() async throws {
        try await withRedisServer { redis in
            try await withCluster(2, redis: redis) { nodes in
                var published: [String] = []
                for i in 0..<3 { published.append(try await nodes[i % 2].publish("lp", ["message": .string("early \(i)")])) }
                var cursor = ""
                var received: [String] = []
                for round in 0..<8 {
                    let node = nodes[round % 2]
                    // A timeout far longer than any wake-up: a waiting round answers only because the event arrived.
                    let query = "client_id=alternating&user_id=poller&rooms=lp&timeout=60" + (cursor.isEmpty ? "" : "&last_message_id=\(cursor)")
                    let publisher = nodes[(round + 1) % 2]
                    // Half the rounds find events waiting; the others wait and are woken by the other node.
                    let waits = round % 2 == 1
                    if !waits {
                        published.append(try await publisher.publish("lp", ["message": .string("round \(round)")]))
                    }
                    let answer = Task { try await node.poll(query) }
                    if waits {
                        try await node.eventually("the poll to wait on \(node.name)") { try await node.stats()["active_clients"] == 1 }
                        published.append(try await publisher.publish("lp", ["message": .string("round \(round)")]))
                    }
                    let body = try await answer.value
                    let ids = body["messages"]?.arrayValue?.compactMap { $0["event_id"]?.stringValue } ?? []
                    #expect(ids.last == published.last, "round \(round) answered with the event just published")
                    received += ids
                    #expect(body["gaps"]?.arrayValue?.isEmpty ?? true)
                    cursor = try #require(body["last_message_id"]?.stringValue)
                }
                #expect(received == published)
            }
        }
    }

    @Test func presenceIsCountedOverEveryNode() async throws {
        try await withRedisServer { redis in
            try await withCluster(2, redis: redis) { nodes in
                let watcher = try await nodes[1].connect("watcher")
                try await watcher.join("lobby")
                let alice1 = try await nodes[0].connect("alice")
                try await alice1.join("lobby")
                let joined = try await watcher.next(type: "user_joined", where: inLobby("alice"))
                #expect(joined["data"]?["user_id"]?.stringValue == "alice")
                // A second connection of alice's, on the watcher's node: not a new arrival.
                let alice2 = try await nodes[1].connect("alice")
                try await alice2.join("lobby")
                let presence = try await nodes[1].http.request("GET", "/api/rooms/lobby/presence")
                let users = presence.body?["users"]?.arrayValue ?? []
                #expect(users.compactMap { $0["user_id"]?.stringValue } == ["alice", "watcher"])
                let alice = try #require(users.first)
                #expect(alice["connections"] == 2)
                #expect(alice["transports"] == ["websocket"])
                // The same answer from the other node, and over the WebSocket presence request.
                let elsewhere = try await nodes[0].http.request("GET", "/api/rooms/lobby/presence")
                #expect(elsewhere.body?["count"] == 2)

                await alice1.close()
                #expect(try await watcher.collect(type: "user_left", for: .milliseconds(500)).filter(inLobby("alice")).isEmpty, "alice is still there on node 2")
                await alice2.close()
                try await watcher.next(type: "user_left", where: inLobby("alice"))
                #expect(try await watcher.collect(type: "user_joined", for: .milliseconds(300)).filter(inLobby("alice")).isEmpty, "joined was announced once")
                #expect(try await watcher.collect(type: "user_left", for: .milliseconds(200)).filter(inLobby("alice")).isEmpty, "left is announced once")
                await watcher.close()
            }
        }
    }

    @Test func theUsersOfAKilledNodeAreAnnouncedAsLeftOnceTheirPresenceExpires() async throws {
        try await withRedisServer { redis in
            try await withCluster(3, redis: redis, arguments: ["--presence-ttl", "1.5"]) { nodes in
                let watcher = try await nodes[0].connect("watcher")
                try await watcher.join("lobby")
                let other = try await nodes[1].connect("other-watcher")
                try await other.join("lobby")
                let doomed = try await nodes[2].connect("carol")
                try await doomed.join("lobby")
                // Across nodes, through Redis: a generous deadline for a loaded machine.
                try await watcher.next(type: "user_joined", timeout: .seconds(20), where: inLobby("carol"))
                try await other.next(type: "user_joined", timeout: .seconds(20), where: inLobby("carol"))

                let killed = ContinuousClock.now
                try await nodes[2].kill()
                let left = try await watcher.next(type: "user_left", timeout: .seconds(8), where: inLobby("carol"))
                let after = ContinuousClock.now - killed
                #expect(after >= .milliseconds(900), "not before the entries expire (\(after))")
                #expect(left["data"]?["reason"] == "expired")
                try await other.next(type: "user_left", where: inLobby("carol"))
                // Two nodes were reaping: still one announcement per room.
                #expect(try await watcher.collect(type: "user_left", for: .seconds(2)).filter(inLobby("carol")).isEmpty)
                #expect(try await other.collect(type: "user_left", for: .milliseconds(100)).filter(inLobby("carol")).isEmpty)
                let presence = try await nodes[0].http.request("GET", "/api/rooms/lobby/presence")
                #expect(presence.body?["users"]?.arrayValue?.compactMap { $0["user_id"]?.stringValue } == ["other-watcher", "watcher"])
                await watcher.close()
                await other.close()
                await doomed.close()
            }
        }
    }

    @Test func redisStoppedAndStartedAgainMidway() async throws {
        try await withRedisServer { redis in
            try await withCluster(2, redis: redis) { nodes in
                let listener = try await nodes[1].connect("listener")
                let local = try await nodes[0].connect("local")
                let before = try await nodes[0].publish("general", ["message": "before"])
                #expect(try await listener.next(type: "message")["event_id"]?.stringValue == before)

                try await redis.stop()
                for node in nodes {
                    try await node.eventually("\(node.name) to report Redis down") { try await node.brokerHealthy() == false }
                }
                let refused = try await nodes[0].publishReply("general", ["message": "during"])
                #expect(refused.status == 503)
                #expect(refused.body?["error"]?["code"] == "unavailable")
                // Local clients are still served: a heartbeat is answered, a frame's publish is refused with a reason.
                try await local.send(["event_type": "heartbeat", "data": [:]])
                try await local.next(type: "heartbeat")
                try await local.say("while down", ref: "down")
                let error = try await local.next(type: "error")
                #expect(error["data"]?["code"] == "unavailable")
                // The gauge follows the broker's health check (every second at most).
                try await nodes[0].eventually("the health gauge to drop") {
                    try await nodes[0].http.request("GET", "/metrics").text.contains("moonwire_broker_healthy 0")
                }

                try await redis.start()
                for node in nodes {
                    try await node.eventually("\(node.name) to reconnect", timeout: .seconds(10)) { try await node.brokerHealthy() }
                }
                let after = try await nodes[0].publish("general", ["message": "after"])
                #expect(try await listener.next(type: "message")["event_id"]?.stringValue == after)
                try await local.say("back", ref: "back")
                #expect(try await listener.next(type: "message").chatText == "back")
                let stats = try await nodes[1].stats()
                #expect((stats["broker"]?["reconnects"]?.intValue ?? 0) >= 1)
                await listener.close()
                await local.close()
            }
        }
    }

    @Test func pluginsSeeOneHub() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("moonwire-cluster-plugins-\(RandomID.token(length: 8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
        return {
          name = "counter",
          on_publish = function(ctx, event)
            if event.event_type ~= "message" or event.room_id ~= "count" then return nil end
            event.data.n = hub.store.incr("messages")
            if event.data.n % 2 == 0 then hub.publish("even", "notification", { n = event.data.n }) end
            return event
          end,
        }
        """.write(toFile: directory + "/counter.lua", atomically: true, encoding: .utf8)
        try await withRedisServer { redis in
            try await withCluster(2, redis: redis, arguments: ["--plugins", directory, "--set", "plugins.watch=false"]) { nodes in
                let listener = try await nodes[1].connect("listener")
                try await listener.join("even")
                var counts: [Int64] = []
                for i in 0..<4 {
                    let reply = try await nodes[i % 2].publishReply("count", ["message": "hi"])
                    counts.append(try #require(reply.body?["event"]?["data"]?["n"]?.intValue))
                }
                #expect(counts == [1, 2, 3, 4], "one counter for every node")
                let notices = [try await listener.next(type: "notification"), try await listener.next(type: "notification")]
                #expect(notices.map { $0["data"]?["n"] } == [2, 4], "hub.publish from node 1's plugin reached node 2")
                await listener.close()
            }
        }
    }
}

/// Matches `user`'s presence announcements in `lobby` (every connection also joins `general`).
private func inLobby(_ user: String) -> @Sendable (JSONValue) -> Bool {
    { $0["user_id"]?.stringValue == user && $0["room_id"]?.stringValue == "lobby" }
}
