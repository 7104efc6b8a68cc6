import MoonwireClient
import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct SSETests {
    @Test func defaultStreamFollowsGeneralWithRetryAndAWelcomeCarryingACursor() async throws {
        try await withLiveHub { live in
            let stream = try await live.stream("/events?user_id=sam")
            #expect(stream.stream.status == 200)
            let contentType = stream.stream.headers.first { $0.0.lowercased() == "content-type" }?.1
            #expect(contentType?.hasPrefix("text/event-stream") == true)
            let welcome = try await stream.next(event: "notification")
            #expect(stream.stream.retry == 3000)
            let cursor = try #require(welcome.id)
            #expect(EventID(cursor) != nil, "welcome id \(cursor) should be a plain event id for one room")
            let data = welcome.json?["data"]
            #expect(data?["message"]?.stringValue == "Welcome sam!")
            #expect(data?["rooms"]?.arrayValue?.contains("general") == true)

            try await live.publish("elsewhere", ["message": "not for the general stream"])
            let id = try await live.publish("general", ["message": "hello"])
            let message = try await stream.next(event: "message")
            #expect(message.json?.chatText == "hello")
            #expect(message.id == id)
            #expect((EventID(id)?.value ?? 0) > (EventID(cursor)?.value ?? .max))
            #expect(try await stream.inbox.collect(for: .milliseconds(200)) { $0.event == "message" }.isEmpty)
            stream.close()
        }
    }

    @Test func publishedEventArrivesWithTypeDataAndID() async throws {
        try await withLiveHub { live in
            let stream = try await live.stream("/events?rooms=news")
            _ = try await stream.next(event: "notification")
            let reply = try await live.http.request(
                "POST", "/api/publish",
                json: ["room": "news", "event_type": "article", "data": ["title": "Moon landing", "n": 1], "user_id": "editor"])
            #expect(reply.status == 200)
            let event = try #require(reply.body?["event"])
            let id = try #require(event["event_id"]?.stringValue)
            let received = try await stream.next(event: "article")
            #expect(received.id == id)
            let json = try #require(received.json)
            #expect(json["event_id"]?.stringValue == id)
            #expect(json["event_type"]?.stringValue == "article")
            #expect(json["user_id"]?.stringValue == "editor")
            #expect(json["room_id"]?.stringValue == "news")
            #expect(json["data"] == ["title": "Moon landing", "n": 1])
            #expect(json["timestamp"]?.doubleValue == event["timestamp"]?.doubleValue)
            #expect(json == event)
            stream.close()
        }
    }

    @Test func severalRoomsCarryACompositeCursor() async throws {
        try await withLiveHub { live in
            let stream = try await live.stream("/events?rooms=a,b")
            let welcome = try await stream.next(event: "notification")
            let start = try #require(welcome.id)
            let startPositions = compositePositions(start)
            #expect(startPositions.map(\.room) == ["a", "b"], "welcome id \(start)")
            let startB = try #require(startPositions.last?.id)

            let a1 = try await live.publish("a", ["message": "a1"])
            let b1 = try await live.publish("b", ["message": "b1"])
            try await live.publish("c", ["message": "c1"])
            let first = try await stream.next(event: "message")
            #expect(first.json?.chatText == "a1")
            #expect(first.json?["room_id"]?.stringValue == "a")
            #expect(first.id == "a:\(a1),b:\(startB)")
            let second = try await stream.next(event: "message")
            #expect(second.json?.chatText == "b1")
            #expect(second.json?["room_id"]?.stringValue == "b")
            #expect(second.id == "a:\(a1),b:\(b1)")
            #expect(try await stream.inbox.collect(for: .milliseconds(200)) { $0.event == "message" }.isEmpty)
            stream.close()
        }
    }

    @Test func lastEventIDHeaderReplaysExactlyTheMissedEventsOfOneRoom() async throws {
        try await withLiveHub { live in
            let first = try await live.stream()
            _ = try await first.next(event: "notification")
            var ids: [String] = []
            for i in 1...3 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }
            #expect(try await takeMessages(first, 3).map(\.text) == ["m1", "m2", "m3"])
            let resumeFrom = try #require(first.stream.lastEventID)
            #expect(resumeFrom == ids[2])
            first.close()

            for i in 4...6 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }
            let resumed = try await live.stream(lastEventID: resumeFrom)
            let welcome = try await resumed.next(event: "notification")
            #expect(welcome.id == resumeFrom)
            ids.append(try await live.publish("general", ["message": "m7"]))
            let got = try await takeMessages(resumed, 4)
            #expect(got.map(\.text) == ["m4", "m5", "m6", "m7"])
            #expect(got.map(\.id) == Array(ids[3...6]))
            #expect(try await resumed.inbox.collect(for: .milliseconds(250)) { $0.event == "message" }.isEmpty)
            resumed.close()
        }
    }

    @Test func lastEventIDHeaderReplaysExactlyTheMissedEventsOfSeveralRooms() async throws {
        try await withLiveHub { live in
            let first = try await live.stream("/events?rooms=a,b")
            _ = try await first.next(event: "notification")
            let a1 = try await live.publish("a", ["message": "a1"])
            let b1 = try await live.publish("b", ["message": "b1"])
            _ = try await takeMessages(first, 2)
            let cursor = try #require(first.stream.lastEventID)
            #expect(cursor == "a:\(a1),b:\(b1)")
            first.close()

            let a2 = try await live.publish("a", ["message": "a2"])
            let b2 = try await live.publish("b", ["message": "b2"])
            let a3 = try await live.publish("a", ["message": "a3"])
            let resumed = try await live.stream("/events?rooms=a,b", lastEventID: cursor)
            let welcome = try await resumed.next(event: "notification")
            #expect(welcome.id == cursor)
            let got = try await takeMessages(resumed, 3)
            #expect(Set(got.map(\.text)) == ["a2", "b2", "a3"])
            #expect(got.filter { $0.room == "a" }.map(\.text) == ["a2", "a3"])
            #expect(got.filter { $0.room == "b" }.map(\.text) == ["b2"])
            #expect(compositePositions(got.first { $0.text == "a2" }?.id ?? "").first?.id == a2)
            #expect(got.last?.id == "a:\(a3),b:\(b2)")
            // Every id along the way is a composite of positions that never go backwards.
            var previous: [String: Int64] = ["a": EventID(a1)!.value, "b": EventID(b1)!.value]
            for message in got {
                for (room, id) in compositePositions(message.id ?? "") {
                    #expect(EventID(id)!.value >= previous[room] ?? 0)
                    previous[room] = EventID(id)!.value
                }
            }
            #expect(previous == ["a": EventID(a3)!.value, "b": EventID(b2)!.value])
            #expect(try await resumed.inbox.collect(for: .milliseconds(250)) { $0.event == "message" }.isEmpty)
            resumed.close()
        }
    }

    @Test func lastEventIDQueryParameterWorksAndTheHeaderWins() async throws {
        try await withLiveHub { live in
            var ids: [String] = []
            for i in 1...3 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }

            let byQuery = try await live.stream("/events?last_event_id=\(ids[0])")
            #expect(try await takeMessages(byQuery, 2).map(\.text) == ["m2", "m3"])
            #expect(try await byQuery.inbox.collect(for: .milliseconds(150)) { $0.event == "message" }.isEmpty)
            byQuery.close()

            let both = try await live.stream("/events?last_event_id=\(ids[0])", lastEventID: ids[1])
            #expect(try await takeMessages(both, 1).map(\.text) == ["m3"])
            #expect(try await both.inbox.collect(for: .milliseconds(150)) { $0.event == "message" }.isEmpty)
            both.close()

            // A composite cursor in the query, for several rooms.
            let a1 = try await live.publish("a", ["message": "a1"])
            let b1 = try await live.publish("b", ["message": "b1"])
            try await live.publish("a", ["message": "a2"])
            try await live.publish("b", ["message": "b2"])
            let several = try await live.stream("/events?rooms=a,b&last_event_id=a:\(a1),b:\(b1)")
            #expect(Set(try await takeMessages(several, 2).map(\.text)) == ["a2", "b2"])
            #expect(try await several.inbox.collect(for: .milliseconds(150)) { $0.event == "message" }.isEmpty)
            several.close()
        }
    }

    @Test func invalidRoomIsRefusedWithAJSONError() async throws {
        try await withLiveHub { live in
            let reply = try await live.http.request("GET", "/events?rooms=general,bad%20room")
            #expect(reply.status == 400)
            #expect(reply.body?["error"]?["code"]?.stringValue == "invalid_room")
            #expect(live.hub.connections.isEmpty)
        }
    }

    @Test func keepAliveCommentsArrive() async throws {
        try await withLiveHub({ $0.hub.keepAliveInterval = .seconds(1) }) { live in
            let stream = try await live.stream()
            _ = try await stream.next(event: "notification")
            try await live.eventually("two keep-alive comments", timeout: .seconds(8)) { stream.stream.commentCount >= 2 }
            // The stream is still live after idling.
            try await live.publish("general", ["message": "after idling"])
            #expect(try await stream.next(event: "message").json?.chatText == "after idling")
            stream.close()
        }
    }

    @Test func resumeFromBeforeTheRetainedHistoryGetsAGapThenTheRetainedEvents() async throws {
        try await withLiveHub({ $0.hub.historySize = 3 }) { live in
            var ids: [String] = []
            for i in 1...6 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }

            let stream = try await live.stream(lastEventID: ids[0])
            _ = try await stream.next(event: "notification")
            let gap = try await stream.inbox.next(timeout: .seconds(5), "first event after the welcome") { $0.event != "notification" }
            #expect(gap.event == "gap")
            let data = gap.json?["data"]
            #expect(data?["room_id"]?.stringValue == "general")
            #expect(data?["last_event_id"]?.stringValue == ids[0])
            #expect(data?["oldest_retained_id"]?.stringValue == ids[3])
            #expect(data?["message"]?.stringValue?.isEmpty == false)
            #expect(gap.json?["room_id"]?.stringValue == "general")
            let got = try await takeMessages(stream, 3)
            #expect(got.map(\.text) == ["m4", "m5", "m6"])
            #expect(got.map(\.id) == Array(ids[3...5]))
            stream.close()

            // Resuming from m3, the newest evicted event, loses nothing (all after it is retained): no gap.
            let exact = try await live.stream(lastEventID: ids[2])
            _ = try await exact.next(event: "notification")
            let firstAfterWelcome = try await exact.inbox.next(timeout: .seconds(5), "first event after the welcome") { $0.event != "notification" }
            #expect(firstAfterWelcome.event == "message")
            #expect(firstAfterWelcome.json?.chatText == "m4")
            #expect(try await takeMessages(exact, 2).map(\.text) == ["m5", "m6"])
            #expect(try await exact.inbox.collect(for: .milliseconds(150)) { $0.event == "gap" }.isEmpty)
            exact.close()
        }
    }

    @Test func unparseableLastEventIDGetsAGapThenEverythingRetained() async throws {
        try await withLiveHub { live in
            var ids: [String] = []
            for i in 1...3 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }
            let stream = try await live.stream(lastEventID: "not-an-id")
            _ = try await stream.next(event: "notification")
            let gap = try await stream.inbox.next(timeout: .seconds(5), "first event after the welcome") { $0.event != "notification" }
            #expect(gap.event == "gap")
            #expect(gap.json?["data"]?["last_event_id"]?.stringValue == "not-an-id")
            #expect(gap.json?["data"]?["room_id"]?.stringValue == "general")
            let got = try await takeMessages(stream, 3)
            #expect(got.map(\.text) == ["m1", "m2", "m3"])
            #expect(got.map(\.id) == ids)
            stream.close()
        }
    }

    @Test func typingReachesSSEWithoutMovingTheCursor() async throws {
        try await withLiveHub { live in
            let stream = try await live.stream()
            _ = try await stream.next(event: "notification")
            let before = try await live.publish("general", ["message": "before"])
            #expect(try await stream.next(event: "message").id == before)

            let alice = try await live.connect("alice")
            try await alice.send(["event_type": "typing", "room_id": "general", "data": ["is_typing": true]])
            let typing = try await stream.next(event: "typing")
            #expect(typing.json?["user_id"]?.stringValue == "alice")
            #expect(typing.json?["data"]?["is_typing"] == true)
            #expect(EventID(typing.json?["event_id"]?.stringValue ?? "") == nil)
            #expect(typing.id == before)
            #expect(stream.stream.lastEventID == before)

            let after = try await live.publish("general", ["message": "after"])
            #expect(try await stream.next(event: "message").id == after)
            let history = try await live.http.request("GET", "/api/rooms/general/history")
            #expect(history.body?["events"]?.arrayValue?.compactMap { $0["event_type"]?.stringValue } == ["message", "message"])
            stream.close()
            await alice.close()
        }
    }
}

/// A received chat message: its SSE `id:`, room and text.
private struct ReceivedMessage {
    var id: String?
    var room: String?
    var text: String?
}

/// The next `count` `message` events of `probe`, in arrival order.
private func takeMessages(_ probe: SSEProbe, _ count: Int, timeout: Duration = .seconds(5)) async throws -> [ReceivedMessage] {
    var result: [ReceivedMessage] = []
    for _ in 0..<count {
        let message = try await probe.next(event: "message", timeout: timeout)
        result.append(ReceivedMessage(id: message.id, room: message.json?["room_id"]?.stringValue, text: message.json?.chatText))
    }
    return result
}

/// `a:1,b:2` → `[("a", "1"), ("b", "2")]`.
private func compositePositions(_ cursor: String) -> [(room: String, id: String)] {
    cursor.split(separator: ",").compactMap { part -> (room: String, id: String)? in
        let pieces = part.split(separator: ":")
        guard pieces.count == 2 else { return nil }
        return (String(pieces[0]), String(pieces[1]))
    }
}
