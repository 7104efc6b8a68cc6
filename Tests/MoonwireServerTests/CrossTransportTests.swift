import MoonwireClient
import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct CrossTransportTests {
    @Test func webSocketEventReachesSSEAndLongPoll() async throws {
        try await withLiveHub { live in
            let sse = try await live.stream()
            _ = try await sse.next(event: "notification")
            let cursor = try #require(try await pollReply(live, "client_id=lp&timeout=0")["last_message_id"]?.stringValue)
            async let polled = pollReply(live, "client_id=lp&last_message_id=\(cursor)&timeout=20")
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }

            let alice = try await live.connect("alice")
            try await alice.say("from the socket", ref: "r1")
            let ack = try await alice.next(type: "ack")
            let id = try #require(ack["data"]?["event_id"]?.stringValue)

            let streamed = try await sse.next(event: "message")
            #expect(streamed.id == id)
            #expect(streamed.json?.chatText == "from the socket")
            #expect(streamed.json?["user_id"]?.stringValue == "alice")
            #expect(streamed.json?["event_id"]?.stringValue == id)

            let body = try await polled
            let messages = try #require(body["messages"]?.arrayValue)
            try #require(messages.count == 1)
            #expect(messages[0]["message_id"]?.stringValue == id)
            #expect(messages[0]["content"]?.stringValue == "from the socket")
            #expect(messages[0]["sender"]?.stringValue == "alice")
            #expect(body["last_message_id"]?.stringValue == id)
            sse.close()
            await alice.close()
        }
    }

    @Test func triggerAndMessageReachWebSocketAndSSEClients() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            try await alice.join("ops")
            let sse = try await live.stream("/events?rooms=general,ops")
            _ = try await sse.next(event: "notification")

            // The seed's SSE trigger: {event_type, data}.
            let trigger = try await live.http.request("POST", "/trigger", json: ["event_type": "notification", "data": ["message": "deploy done"]])
            #expect(trigger.status == 200)
            #expect(trigger.body?["status"]?.stringValue == "sent")
            let triggerID = try #require(trigger.body?["event_id"]?.stringValue)
            let viaWebSocket = try await alice.next(type: "notification") { $0["data"]?["message"]?.stringValue == "deploy done" }
            #expect(viaWebSocket["event_id"]?.stringValue == triggerID)
            #expect(viaWebSocket["room_id"]?.stringValue == "general")
            let viaSSE = try await sse.next(event: "notification") { $0.json?["data"]?["message"]?.stringValue == "deploy done" }
            #expect(viaSSE.json?["event_id"]?.stringValue == triggerID)

            // With a room, and a type of the caller's own.
            let alert = try await live.http.request("POST", "/trigger", json: ["event_type": "alert", "room": "ops", "data": ["level": "high"]])
            #expect(alert.status == 200)
            #expect(try await alice.next(type: "alert")["data"]?["level"]?.stringValue == "high")
            #expect(try await sse.next(event: "alert").json?["room_id"]?.stringValue == "ops")

            // The seed's long-poll publisher: {type, content, sender}.
            let message = try await live.http.request("POST", "/message", json: ["type": "message", "content": "hi all", "sender": "bob"])
            #expect(message.status == 200)
            let messageID = try #require(message.body?["message_id"]?.stringValue)
            let wsMessage = try await alice.next(type: "message")
            #expect(wsMessage["event_id"]?.stringValue == messageID)
            #expect(wsMessage["user_id"]?.stringValue == "bob")
            #expect(wsMessage["data"]?["content"]?.stringValue == "hi all")
            let sseMessage = try await sse.next(event: "message")
            #expect(sseMessage.json?["event_id"]?.stringValue == messageID)
            #expect(sseMessage.json?["data"]?["content"]?.stringValue == "hi all")
            sse.close()
            await alice.close()
        }
    }

    @Test func webSocketPositionResumesOnSSEAndLongPoll() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            try await live.publish("general", ["message": "m1"])
            try await live.publish("general", ["message": "m2"])
            _ = try await alice.next(type: "message") { $0.chatText == "m1" }
            let seen = try #require(try await alice.next(type: "message") { $0.chatText == "m2" }["event_id"]?.stringValue)
            await alice.close()

            let m3 = try await live.publish("general", ["message": "m3"])
            let m4 = try await live.publish("general", ["message": "m4"])

            let sse = try await live.stream(lastEventID: seen)
            let first = try await sse.next(event: "message")
            let second = try await sse.next(event: "message")
            #expect([first.json?.chatText, second.json?.chatText] == ["m3", "m4"])
            #expect([first.id, second.id] == [m3, m4])
            #expect(try await sse.inbox.collect(for: .milliseconds(200)) { $0.event == "message" }.isEmpty)
            sse.close()

            let polled = try await pollReply(live, "client_id=lp&last_message_id=\(seen)&timeout=0")
            #expect(polled["messages"]?.arrayValue?.compactMap { $0["content"]?.stringValue } == ["m3", "m4"])
            #expect(polled["messages"]?.arrayValue?.compactMap { $0["message_id"]?.stringValue } == [m3, m4])
            #expect(polled["last_message_id"]?.stringValue == m4)
            #expect(polled["gaps"] == nil)
        }
    }

    @Test func sseAndLongPollPositionsResumeAWebSocketJoin() async throws {
        try await withLiveHub { live in
            // SSE position → WebSocket join with data.since.
            let sse = try await live.stream("/events?rooms=news")
            _ = try await sse.next(event: "notification")
            try await live.publish("news", ["message": "n1"])
            try await live.publish("news", ["message": "n2"])
            _ = try await sse.next(event: "message") { $0.json?.chatText == "n1" }
            _ = try await sse.next(event: "message") { $0.json?.chatText == "n2" }
            let position = try #require(sse.stream.lastEventID)
            sse.close()
            let n3 = try await live.publish("news", ["message": "n3"])
            let n4 = try await live.publish("news", ["message": "n4"])

            let bob = try await live.connect("bob")
            try await bob.join("news", since: position)
            let got = [try await bob.next(type: "message"), try await bob.next(type: "message")]
            #expect(got.map(\.chatText) == ["n3", "n4"])
            #expect(got.map { $0["event_id"]?.stringValue } == [n3, n4])
            #expect(try await bob.collect(type: "message", for: .milliseconds(200)).isEmpty)
            await bob.close()

            // Long-poll position → WebSocket join with data.since.
            let cursor = try #require(try await pollReply(live, "client_id=lp&rooms=news&timeout=0")["last_message_id"]?.stringValue)
            #expect(cursor == n4)
            let n5 = try await live.publish("news", ["message": "n5"])
            let carol = try await live.connect("carol")
            try await carol.join("news", since: cursor)
            let next = try await carol.next(type: "message")
            #expect(next.chatText == "n5")
            #expect(next["event_id"]?.stringValue == n5)
            #expect(try await carol.collect(type: "message", for: .milliseconds(200)).isEmpty)
            await carol.close()
        }
    }

    @Test func aStalePositionIsReportedAsAGapOnEveryTransport() async throws {
        try await withLiveHub({ $0.hub.historySize = 2 }) { live in
            var ids: [String] = []
            for i in 1...4 { ids.append(try await live.publish("news", ["message": .string("n\(i)")])) }
            let stale = ids[0]

            let sse = try await live.stream("/events?rooms=news", lastEventID: stale)
            let sseFirst = try await sse.inbox.next(timeout: .seconds(5), "first SSE event after the welcome") { $0.event != "notification" }
            #expect(sseFirst.event == "gap")
            #expect(sseFirst.json?["data"]?["last_event_id"]?.stringValue == stale)
            sse.close()

            let polled = try await pollReply(live, "client_id=lp&rooms=news&last_message_id=\(stale)&timeout=0")
            #expect(polled["gaps"]?.arrayValue?.first?["data"]?["last_event_id"]?.stringValue == stale)
            #expect(polled["messages"]?.arrayValue?.compactMap { $0["content"]?.stringValue } == ["n3", "n4"])

            let dave = try await live.connect("dave")
            try await dave.join("news", since: stale)
            let first = try await dave.inbox.next(timeout: .seconds(5), "first event of news") { $0["room_id"]?.stringValue == "news" }
            #expect(first["event_type"]?.stringValue == "gap")
            #expect(first["data"]?["last_event_id"]?.stringValue == stale)
            #expect(first["data"]?["oldest_retained_id"]?.stringValue == ids[2])
            #expect(try await dave.next(type: "message").chatText == "n3")
            #expect(try await dave.next(type: "message").chatText == "n4")
            await dave.close()
        }
    }

    @Test func compositeSSECursorResumesALongPollOverSeveralRooms() async throws {
        try await withLiveHub { live in
            let sse = try await live.stream("/events?rooms=a,b")
            _ = try await sse.next(event: "notification")
            try await live.publish("a", ["message": "a1"])
            try await live.publish("b", ["message": "b1"])
            _ = try await sse.next(event: "message") { $0.json?.chatText == "a1" }
            _ = try await sse.next(event: "message") { $0.json?.chatText == "b1" }
            let cursor = try #require(sse.stream.lastEventID)
            sse.close()
            let b2 = try await live.publish("b", ["message": "b2"])
            let a2 = try await live.publish("a", ["message": "a2"])

            let polled = try await pollReply(live, "client_id=lp&rooms=a,b&last_message_id=\(cursor)&timeout=0")
            #expect(polled["messages"]?.arrayValue?.compactMap { $0["content"]?.stringValue } == ["b2", "a2"])
            #expect(polled["last_message_id"]?.stringValue == "a:\(a2),b:\(b2)")

            // And back: the long-poll cursor resumes an SSE stream.
            let b3 = try await live.publish("b", ["message": "b3"])
            let resumed = try await live.stream("/events?rooms=a,b", lastEventID: polled["last_message_id"]?.stringValue)
            let next = try await resumed.next(event: "message")
            #expect(next.json?.chatText == "b3")
            #expect(next.id == "a:\(a2),b:\(b3)")
            #expect(try await resumed.inbox.collect(for: .milliseconds(200)) { $0.event == "message" }.isEmpty)
            resumed.close()
        }
    }
}

/// `GET /poll?query`, expecting 200; the JSON body.
private func pollReply(_ live: LiveHub, _ query: String) async throws -> JSONValue {
    let reply = try await live.http.request("GET", "/poll?" + query)
    guard reply.status == 200, let body = reply.body else {
        throw ProbeError.unexpected("poll \(query) failed: \(reply.status) \(reply.text)")
    }
    return body
}
