import MoonwireClient
import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct APITests {
    @Test func publishReturnsTheEventAndDeliversIt() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            let reply = try await live.http.request(
                "POST", "/api/publish", json: ["room": "general", "event_type": "message", "data": ["message": "from the api"], "user_id": "ops"])
            #expect(reply.status == 200)
            let event = try #require(reply.body?["event"])
            let id = try #require(event["event_id"]?.stringValue)
            #expect(EventID(id) != nil)
            #expect(event["event_type"]?.stringValue == "message")
            #expect(event["user_id"]?.stringValue == "ops")
            #expect(event["room_id"]?.stringValue == "general")
            #expect(event["data"] == ["message": "from the api"])
            let received = try await alice.next(type: "message")
            #expect(received == event)
            #expect(reply.body?["recipients"] == 1, "alice's connection was there to receive it")
            let nobody = try await live.http.request("POST", "/api/publish", json: ["room": "user-nosuchuser", "data": ["message": "later"]])
            #expect(nobody.body?["recipients"] == 0)

            // Without a user the hub publishes as `system`; `room_id` names the room as well as `room`.
            let system = try await live.http.request("POST", "/api/publish", json: ["room_id": "general", "data": ["message": "x"]])
            #expect(system.status == 200)
            #expect(system.body?["event"]?["user_id"]?.stringValue == "system")

            let missingRoom = try await live.http.request("POST", "/api/publish", json: ["data": ["message": "nowhere"]])
            #expect(missingRoom.status == 400)
            #expect(errorCode(missingRoom) == "missing_field")
            let badRoom = try await live.http.request("POST", "/api/publish", json: ["room": "bad room!", "data": [:]])
            #expect(badRoom.status == 400)
            #expect(errorCode(badRoom) == "invalid_room")
            await alice.close()
        }
    }

    @Test func broadcastReportsOneResultPerRoom() async throws {
        try await withLiveHub { live in
            let stream = try await live.stream("/events?rooms=a,b")
            _ = try await stream.next(event: "notification")
            let reply = try await live.http.request(
                "POST", "/api/broadcast", json: ["rooms": ["a", "bad room!", "b"], "event_type": "announcement", "data": ["text": "hello rooms"]])
            #expect(reply.status == 200)
            let results = try #require(reply.body?["results"]?.arrayValue)
            try #require(results.count == 3)
            #expect(results.map { $0["room_id"]?.stringValue } == ["a", "bad room!", "b"])
            #expect(EventID(results[0]["event_id"]?.stringValue ?? "") != nil)
            #expect(results[0]["error"] == nil)
            #expect(results[1]["event_id"] == nil)
            #expect(results[1]["error"]?["code"]?.stringValue == "invalid_room")
            #expect(results[1]["error"]?["message"]?.stringValue?.isEmpty == false)
            #expect(EventID(results[2]["event_id"]?.stringValue ?? "") != nil)

            let first = try await stream.next(event: "announcement")
            let second = try await stream.next(event: "announcement")
            #expect([first.json?["room_id"]?.stringValue, second.json?["room_id"]?.stringValue] == ["a", "b"])
            #expect(first.json?["event_id"] == results[0]["event_id"])
            #expect(second.json?["event_id"] == results[2]["event_id"])

            let empty = try await live.http.request("POST", "/api/broadcast", json: ["rooms": [], "data": [:]])
            #expect(empty.status == 400)
            #expect(errorCode(empty) == "missing_field")
            stream.close()
        }
    }

    @Test func roomsRoomAndPresence() async throws {
        try await withLiveHub { live in
            let alice1 = try await live.connect("alice")
            let alice2 = try await live.connect("alice")
            let bob = try await live.connect("bob")
            try await bob.join("lobby")

            let rooms = try await live.http.request("GET", "/api/rooms")
            #expect(rooms.status == 200)
            let list = try #require(rooms.body?["rooms"]?.arrayValue)
            #expect(Set(list.compactMap { $0["room_id"]?.stringValue }) == ["general", "lobby"])
            let general = try #require(list.first { $0["room_id"]?.stringValue == "general" })
            #expect(general["users"]?.intValue == 2)
            #expect(general["connections"]?.intValue == 3)
            #expect((general["created_at"]?.doubleValue ?? 0) > 1_000_000_000)

            let lobby = try await live.http.request("GET", "/api/rooms/lobby")
            #expect(lobby.status == 200)
            #expect(lobby.body?["room_id"]?.stringValue == "lobby")
            #expect(lobby.body?["users"]?.intValue == 1)
            #expect(lobby.body?["connections"]?.intValue == 1)

            let presence = try await live.http.request("GET", "/api/rooms/general/presence")
            #expect(presence.status == 200)
            #expect(presence.body?["room_id"]?.stringValue == "general")
            #expect(presence.body?["count"]?.intValue == 2)
            let users = try #require(presence.body?["users"]?.arrayValue)
            #expect(users.compactMap { $0["user_id"]?.stringValue } == ["alice", "bob"])
            #expect(users.first?["connections"]?.intValue == 2)
            #expect(users.first?["transports"] == ["websocket"])
            #expect(users.last?["connections"]?.intValue == 1)

            // One of alice's two connections goes: she is still present with one.
            await alice2.close()
            try await live.eventually("alice down to one connection") {
                let now = try await live.http.request("GET", "/api/rooms/general/presence")
                return now.body?["users"]?.arrayValue?.first?["connections"]?.intValue == 1
            }
            #expect(try await bob.collect(type: "user_left", for: .milliseconds(150)).isEmpty)

            let missing = try await live.http.request("GET", "/api/rooms/nowhere")
            #expect(missing.status == 404)
            #expect(errorCode(missing) == "room_not_found")
            #expect(errorMessage(missing)?.isEmpty == false)
            let missingPresence = try await live.http.request("GET", "/api/rooms/nowhere/presence")
            #expect(missingPresence.status == 404)
            #expect(errorCode(missingPresence) == "room_not_found")
            await alice1.close()
            await bob.close()
        }
    }

    @Test func historyWithSinceLimitAndGap() async throws {
        try await withLiveHub({ $0.hub.historySize = 4 }) { live in
            var ids: [String] = []
            for i in 1...3 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }

            let all = try await live.http.request("GET", "/api/rooms/general/history")
            #expect(all.status == 200)
            #expect(texts(all) == ["m1", "m2", "m3"])
            #expect(all.body?["last_event_id"]?.stringValue == ids[2])
            #expect(all.body?["gap"] == false)

            let latest = try await live.http.request("GET", "/api/rooms/general/history?limit=2")
            #expect(texts(latest) == ["m2", "m3"])

            let since = try await live.http.request("GET", "/api/rooms/general/history?since=\(ids[0])")
            #expect(texts(since) == ["m2", "m3"])
            #expect(since.body?["has_more"] == false)
            #expect(since.body?["since"]?.stringValue == ids[0])

            let page = try await live.http.request("GET", "/api/rooms/general/history?since=\(ids[0])&limit=1")
            #expect(texts(page) == ["m2"])
            #expect(page.body?["has_more"] == true)

            for i in 4...7 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }
            let stale = try await live.http.request("GET", "/api/rooms/general/history?since=\(ids[0])")
            #expect(stale.body?["gap"] == true)
            #expect(stale.body?["oldest_retained_id"]?.stringValue == ids[3])
            #expect(texts(stale) == ["m4", "m5", "m6", "m7"])
            let fresh = try await live.http.request("GET", "/api/rooms/general/history?since=\(ids[2])")
            #expect(fresh.body?["gap"] == false)
            #expect(texts(fresh) == ["m4", "m5", "m6", "m7"])

            let bad = try await live.http.request("GET", "/api/rooms/general/history?since=yesterday")
            #expect(bad.status == 400)
            #expect(errorCode(bad) == "invalid_field")
            let missing = try await live.http.request("GET", "/api/rooms/nowhere/history")
            #expect(missing.status == 404)
            #expect(errorCode(missing) == "room_not_found")
        }
    }

    @Test func disconnectClosesTheUsersWebSocketsWith4004() async throws {
        try await withLiveHub { live in
            let alice1 = try await live.connect("alice")
            let alice2 = try await live.connect("alice")
            let aliceStream = try await live.stream("/events?user_id=alice")
            _ = try await aliceStream.next(event: "notification")
            let bob = try await live.connect("bob")
            let reply = try await live.http.request("POST", "/api/users/alice/disconnect", json: ["reason": "spam"])
            #expect(reply.status == 200)
            #expect(reply.body?["user_id"]?.stringValue == "alice")
            #expect(reply.body?["disconnected"]?.intValue == 3)
            // The SSE stream is told why, then ends.
            let notice = try await aliceStream.next(event: "disconnect")
            #expect(notice.json?["code"]?.stringValue == "kicked")
            #expect(notice.json?["message"]?.stringValue == "spam")
            try await aliceStream.inbox.waitUntilFinished()
            await alice1.session.waitUntilClosed()
            await alice2.session.waitUntilClosed()
            #expect(alice1.session.closeCode?.code == 4004)
            #expect(alice2.session.closeCode?.code == 4004)
            let left = try await bob.next(type: "user_left") { $0["user_id"]?.stringValue == "alice" }
            #expect(left["room_id"]?.stringValue == "general")
            #expect(try await bob.collect(type: "user_left", for: .milliseconds(150)).isEmpty, "announced once, not per connection")
            try await live.eventually("alice's connections to be gone") { live.hub.connections(ofUser: "alice").isEmpty }

            let nobody = try await live.http.request("POST", "/api/users/nobody/disconnect")
            #expect(nobody.status == 200)
            #expect(nobody.body?["disconnected"]?.intValue == 0)
            await bob.close()
        }
    }

    @Test func errorsAreJSONWithAStableCodeAndStatus() async throws {
        try await withLiveHub({ $0.maxBodyBytes = 256 }) { live in
            let notFound = try await live.http.request("GET", "/api/rooms/ghost")
            #expect(notFound.status == 404)
            #expect(errorCode(notFound) == "room_not_found")
            #expect(notFound.header("content-type")?.hasPrefix("application/json") == true)

            let badJSON = try await live.http.request(
                "POST", "/api/publish", rawBody: "{not json", headers: [("Content-Type", "application/json")])
            #expect(badJSON.status == 400)
            #expect(errorCode(badJSON) == "bad_request")
            #expect(errorMessage(badJSON)?.isEmpty == false)

            let notObject = try await live.http.request("POST", "/api/publish", json: [1, 2])
            #expect(notObject.status == 400)
            #expect(errorCode(notObject) == "bad_request")

            let big = String(repeating: "x", count: 2000)
            let tooLarge = try await live.http.request("POST", "/api/publish", json: ["room": "general", "data": ["message": .string(big)]])
            #expect(tooLarge.status == 413)
            #expect(errorCode(tooLarge) == "payload_too_large")
            let tooLargeMessage = try await live.http.request("POST", "/message", json: ["content": .string(big), "sender": "x"])
            #expect(tooLargeMessage.status == 413)
            #expect(errorCode(tooLargeMessage) == "payload_too_large")

            let wrongType = try await live.http.request("POST", "/api/publish", json: ["room": 5])
            #expect(wrongType.status == 400)
            #expect(errorCode(wrongType) == "invalid_field")
        }
    }

    @Test func apiKeyProtectsTheAPITriggerAndMessage() async throws {
        try await withLiveHub({ $0.apiKey = "k" }) { live in
            let requests: [(String, String, JSONValue?)] = [
                ("GET", "/api/rooms", nil),
                ("GET", "/api/stats", nil),
                ("GET", "/api/rooms/general/presence", nil),
                ("POST", "/api/publish", ["room": "general", "data": ["message": "keyed"]]),
                ("POST", "/api/broadcast", ["rooms": ["general"], "data": ["message": "keyed"]]),
                ("POST", "/trigger", ["event_type": "message", "data": ["message": "keyed"]]),
                ("POST", "/message", ["type": "message", "content": "keyed", "sender": "ops"]),
            ]
            for (method, path, body) in requests {
                let bare = try await live.http.request(method, path, json: body)
                #expect(bare.status == 401, "\(method) \(path) without the key")
                #expect(errorCode(bare) == "unauthorized", "\(method) \(path)")
                let wrong = try await live.http.request(method, path, json: body, headers: [("Authorization", "Bearer nope")])
                #expect(wrong.status == 401, "\(method) \(path) with a wrong key")
                let bearer = try await live.http.request(method, path, json: body, headers: [("Authorization", "Bearer k")])
                #expect(bearer.status == 200, "\(method) \(path) with Bearer: \(bearer.text)")
                let header = try await live.http.request(method, path, json: body, headers: [("X-API-Key", "k")])
                #expect(header.status == 200, "\(method) \(path) with X-API-Key: \(header.text)")
            }
            let health = try await live.http.request("GET", "/health")
            #expect(health.status == 200)
        }
    }

    @Test func corsAllowsConfiguredOriginsAndSameOriginAndRefusesOthers() async throws {
        try await withLiveHub { live in
            let preflight = try await live.http.request(
                "OPTIONS", "/api/publish",
                headers: [
                    ("Origin", "http://localhost:3000"), ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type"),
                ])
            #expect((200..<300).contains(preflight.status))
            #expect(preflight.header("Access-Control-Allow-Origin") == "http://localhost:3000")
            #expect(preflight.header("Access-Control-Allow-Methods")?.contains("POST") == true)

            let allowed = try await live.http.request("GET", "/api/rooms", headers: [("Origin", "http://localhost:3000")])
            #expect(allowed.status == 200)
            #expect(allowed.header("Access-Control-Allow-Origin") == "http://localhost:3000")

            let evil = try await live.http.request("GET", "/api/rooms", headers: [("Origin", "https://evil.example")])
            #expect(evil.status == 403)
            #expect(errorCode(evil) == "origin_not_allowed")
            #expect(evil.header("Access-Control-Allow-Origin") == nil)
            let evilPreflight = try await live.http.request(
                "OPTIONS", "/api/publish", headers: [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")])
            #expect(evilPreflight.status == 403)
            #expect(evilPreflight.header("Access-Control-Allow-Origin") == nil)
        }
        // Same origin: a page served by the hub itself, with an allow-list that does not name it.
        try await withLiveHub({ $0.allowedOrigins = ["https://app.example"] }) { live in
            let same = try await live.http.request("GET", "/api/rooms", headers: [("Origin", live.baseURL)])
            #expect(same.status == 200, "\(same.text)")
            let listed = try await live.http.request("GET", "/api/rooms", headers: [("Origin", "https://app.example")])
            #expect(listed.status == 200)
            #expect(listed.header("Access-Control-Allow-Origin") == "https://app.example")
            let local = try await live.http.request("GET", "/api/rooms", headers: [("Origin", "http://localhost:3000")])
            #expect(local.status == 403)
            #expect(errorCode(local) == "origin_not_allowed")
        }
    }

    @Test func metricsInPrometheusText() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            try await alice.say("counted")
            _ = try await bob.next(type: "message")
            let kicked = try await live.http.request("POST", "/api/users/bob/disconnect")
            #expect(kicked.body?["disconnected"]?.intValue == 1)
            await bob.session.waitUntilClosed()
            try await live.eventually("bob's disconnect to be counted") {
                live.hub.statistics.snapshot().disconnects["kicked"] == 1
            }

            let metrics = try await live.http.request("GET", "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("content-type")?.hasPrefix("text/plain") == true)
            let text = metrics.text
            let lines = text.split(separator: "\n").map(String.init)
            func sample(_ prefix: String) -> Double? {
                lines.first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect(sample(#"moonwire_connections{transport="websocket"}"#) == 1)
            #expect((sample("moonwire_events_in_total") ?? 0) >= 1)
            #expect((sample("moonwire_events_out_total") ?? 0) >= 1)
            #expect(sample("moonwire_rooms") == 1)
            #expect(sample(#"moonwire_disconnects_total{reason="kicked"}"#) == 1)
            #expect(text.contains("# TYPE moonwire_events_in_total counter"))
            await alice.close()
        }
    }

    @Test func statsAndJSONMetricsCarryTheSeedsCounters() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            try await bob.join("side")
            try await alice.say("one")
            try await alice.say("two")
            _ = try await bob.next(type: "message") { $0.chatText == "two" }
            let sse = try await live.stream()
            _ = try await sse.next(event: "notification")
            _ = try await live.http.request("POST", "/api/broadcast", json: ["rooms": ["general", "side"], "data": ["message": "all"]])
            _ = try await sse.next(event: "message") { $0.json?.chatText == "all" }
            let cursor = try #require(try await live.http.request("GET", "/poll?client_id=p&timeout=0").body?["last_message_id"]?.stringValue)
            async let waiting = live.http.request("GET", "/poll?client_id=p&last_message_id=\(cursor)&timeout=20")
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }

            let stats = try await live.http.request("GET", "/api/stats")
            #expect(stats.status == 200)
            let json = try await live.http.request("GET", "/metrics", headers: [("Accept", "application/json")])
            #expect(json.status == 200)
            #expect(json.header("content-type")?.hasPrefix("application/json") == true)
            for reply in [stats, json] {
                let body = try #require(reply.body)
                let keys = [
                    "total_connections", "active_connections", "messages_sent", "rooms_created", "events_processed", "active_rooms",
                    "room_stats", "events_sent", "broadcasts", "total_messages", "active_clients", "poll_requests", "queue_size",
                ]
                for key in keys { #expect(body[key] != nil, "missing \(key)") }
                // WebSocket ×2, SSE ×1, the long-poll session ×1.
                #expect(body["total_connections"]?.intValue == 4)
                #expect(body["active_connections"]?.intValue == 4)
                #expect(body["messages_sent"]?.intValue == 4, "two from alice, two from the broadcast")
                #expect(body["rooms_created"]?.intValue == 2)
                #expect((body["events_processed"]?.intValue ?? 0) >= 3, "bob's join and alice's two messages")
                #expect(body["active_rooms"]?.intValue == 2)
                #expect(body["room_stats"]?["general"]?.intValue == 4)
                #expect(body["room_stats"]?["side"]?.intValue == 1)
                #expect((body["events_sent"]?.intValue ?? 0) >= 4)
                #expect(body["broadcasts"]?.intValue == 1)
                #expect(body["total_messages"]?.intValue == 4)
                #expect(body["active_clients"]?.intValue == 1)
                #expect((body["poll_requests"]?.intValue ?? 0) >= 2)
                #expect(body["queue_size"]?.intValue == 4)
            }
            try await live.publish("general", ["message": "wake"])
            _ = try await waiting
            sse.close()
            await alice.close()
            await bob.close()
        }
    }

    @Test func healthAnswersOK() async throws {
        try await withLiveHub { live in
            let health = try await live.http.request("GET", "/health")
            #expect(health.status == 200)
            #expect(health.body?["status"]?.stringValue == "ok")
        }
    }
}

private func errorCode(_ reply: HubHTTPClient.Reply) -> String? {
    reply.body?["error"]?["code"]?.stringValue
}

private func errorMessage(_ reply: HubHTTPClient.Reply) -> String? {
    reply.body?["error"]?["message"]?.stringValue
}

/// `data.message` of each event of a history answer.
private func texts(_ reply: HubHTTPClient.Reply) -> [String] {
    reply.body?["events"]?.arrayValue?.compactMap(\.chatText) ?? []
}
