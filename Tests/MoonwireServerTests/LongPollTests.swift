import MoonwireClient
import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct LongPollTests {
    @Test func responseHasTheSeedsShapeBesideTheEventFields() async throws {
        try await withLiveHub { live in
            let sent = try await live.http.request("POST", "/message", json: ["type": "message", "content": "hi there", "sender": "bob"])
            #expect(sent.status == 200)
            let id = try #require(sent.body?["message_id"]?.stringValue)

            let reply = try await live.http.request("GET", "/poll?client_id=c1&timeout=0")
            #expect(reply.status == 200)
            let body = try #require(reply.body)
            #expect(body["has_more"] == false)
            #expect(body["last_message_id"]?.stringValue == id)
            let messages = try #require(body["messages"]?.arrayValue)
            try #require(messages.count == 1)
            let message = messages[0]
            // The seed's fields...
            #expect(message["message_id"]?.stringValue == id)
            #expect(message["type"]?.stringValue == "message")
            #expect(message["content"]?.stringValue == "hi there")
            #expect(message["sender"]?.stringValue == "bob")
            #expect((message["timestamp"]?.doubleValue ?? 0) > 1_000_000_000)
            // ... beside the event's.
            #expect(message["event_id"]?.stringValue == id)
            #expect(message["event_type"]?.stringValue == "message")
            #expect(message["user_id"]?.stringValue == "bob")
            #expect(message["room_id"]?.stringValue == "general")
            #expect(message["data"]?["content"]?.stringValue == "hi there")
        }
    }

    @Test func firstPollWithoutACursorReturnsTheRetainedHistory() async throws {
        // On a manual clock that never moves, a poll that waited for its timeout would never answer.
        try await withLiveHub(clock: ManualClock()) { live in
            var ids: [String] = []
            for i in 1...4 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }
            let body = try await answered("a poll with messages waiting") { try await pollBody(live, "client_id=fresh&timeout=10") }
            #expect(contents(body) == ["m1", "m2", "m3", "m4"])
            #expect(body["messages"]?.arrayValue?.compactMap { $0["message_id"]?.stringValue } == ids)
            #expect(body["last_message_id"]?.stringValue == ids.last)
            #expect(body["has_more"] == false)
        }
    }

    @Test func pollWithACursorWaitsAndAnswersAsSoonAsSomethingIsPublished() async throws {
        // The clock never reaches the poll's timeout: only the publish can answer it.
        try await withLiveHub(clock: ManualClock()) { live in
            try await live.publish("general", ["message": "old"])
            let cursor = try #require(try await pollBody(live, "client_id=w&timeout=0")["last_message_id"]?.stringValue)
            async let answer = answered("the waiting poll") { try await pollBody(live, "client_id=w&last_message_id=\(cursor)&timeout=20") }
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }
            let id = try await live.publish("general", ["message": "wake up"])
            let body = try await answer
            #expect(contents(body) == ["wake up"])
            #expect(body["last_message_id"]?.stringValue == id)
        }
    }

    @Test func timeoutWithNothingNewReturnsNoMessagesAndTheCursor() async throws {
        let clock = ManualClock()
        try await withLiveHub(clock: clock) { live in
            let cursor = try #require(try await pollBody(live, "client_id=t&timeout=0")["last_message_id"]?.stringValue)
            #expect(EventID(cursor) != nil)
            async let answer = answered("the poll's timeout") { try await pollBody(live, "client_id=t&last_message_id=\(cursor)&timeout=1") }
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }
            clock.advance(by: .milliseconds(900))
            await Task.yield()
            #expect(live.hub.statistics.snapshot().pollWaiting == 1, "still waiting before its timeout")
            clock.advance(by: .milliseconds(200))
            let body = try await answer
            #expect(body["messages"]?.arrayValue?.isEmpty == true)
            #expect(body["last_message_id"]?.stringValue == cursor)
            #expect(body["has_more"] == false)
        }
    }

    @Test func timeoutIsClampedToTheMaximum() async throws {
        let clock = ManualClock()
        try await withLiveHub({ $0.hub.pollMaxTimeout = .seconds(1) }, clock: clock) { live in
            let cursor = try #require(try await pollBody(live, "client_id=clamp&timeout=0")["last_message_id"]?.stringValue)
            async let answer = answered("a poll asking for 30 s with a 1 s maximum") {
                try await pollBody(live, "client_id=clamp&last_message_id=\(cursor)&timeout=30")
            }
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }
            clock.advance(by: .seconds(1))  // the maximum, not the 30 s asked for, answers it
            let body = try await answer
            #expect(body["messages"]?.arrayValue?.isEmpty == true)
            #expect(body["last_message_id"]?.stringValue == cursor)
        }
    }

    @Test func twoConcurrentPollsWithOneClientIDAreBothAnswered() async throws {
        // The clock never reaches the polls' timeout: only the publish can answer them.
        try await withLiveHub(clock: ManualClock()) { live in
            let cursor = try #require(try await pollBody(live, "client_id=twin&timeout=0")["last_message_id"]?.stringValue)
            async let first = answered("the first poll") { try await pollBody(live, "client_id=twin&last_message_id=\(cursor)&timeout=20") }
            async let second = answered("the second poll") { try await pollBody(live, "client_id=twin&last_message_id=\(cursor)&timeout=20") }
            try await live.eventually("both polls to wait") { live.hub.statistics.snapshot().pollWaiting == 2 }
            let id = try await live.publish("general", ["message": "for both"])
            let (a, b) = try await (first, second)
            #expect(contents(a) == ["for both"])
            #expect(contents(b) == ["for both"])
            #expect(a["last_message_id"]?.stringValue == id)
            #expect(b["last_message_id"]?.stringValue == id)
        }
    }

    @Test func severalRoomsShareACompositeCursor() async throws {
        try await withLiveHub { live in
            let a1 = try await live.publish("a", ["message": "a1"])
            let b1 = try await live.publish("b", ["message": "b1"])
            let a2 = try await live.publish("a", ["message": "a2"])
            try await live.publish("c", ["message": "not polled"])
            let first = try await pollBody(live, "client_id=multi&rooms=a,b&timeout=0")
            #expect(contents(first) == ["a1", "b1", "a2"])
            #expect(first["messages"]?.arrayValue?.compactMap { $0["message_id"]?.stringValue } == [a1, b1, a2])
            let cursor = try #require(first["last_message_id"]?.stringValue)
            #expect(cursor == "a:\(a2),b:\(b1)")

            let idle = try await pollBody(live, "client_id=multi&rooms=a,b&last_message_id=\(cursor)&timeout=0")
            #expect(idle["messages"]?.arrayValue?.isEmpty == true)
            #expect(idle["last_message_id"]?.stringValue == cursor)

            async let waiting = pollBody(live, "client_id=multi&rooms=a,b&last_message_id=\(cursor)&timeout=20")
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }
            let b2 = try await live.publish("b", ["message": "b2"])
            let next = try await waiting
            #expect(contents(next) == ["b2"])
            #expect(next["last_message_id"]?.stringValue == "a:\(a2),b:\(b2)")
        }
    }

    @Test func hasMoreWhenMoreThanOneBatchIsWaiting() async throws {
        try await withLiveHub({ $0.hub.pollBatchSize = 2 }) { live in
            var ids: [String] = []
            for i in 1...5 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }
            var cursor: String?
            var batches: [[String]] = []
            var hasMore: [Bool] = []
            for _ in 0..<3 {
                let query = "client_id=batch&timeout=0" + (cursor.map { "&last_message_id=\($0)" } ?? "")
                let body = try await pollBody(live, query)
                batches.append(contents(body))
                hasMore.append(body["has_more"]?.boolValue ?? false)
                cursor = body["last_message_id"]?.stringValue
            }
            #expect(batches == [["m1", "m2"], ["m3", "m4"], ["m5"]])
            #expect(hasMore == [true, true, false])
            #expect(cursor == ids.last)
        }
    }

    @Test func cursorOlderThanTheRetainedHistoryIsReportedAsAGap() async throws {
        try await withLiveHub({ $0.hub.historySize = 3 }) { live in
            var ids: [String] = []
            for i in 1...6 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }

            let stale = try await pollBody(live, "client_id=g&last_message_id=\(ids[0])&timeout=0")
            let gaps = try #require(stale["gaps"]?.arrayValue)
            try #require(gaps.count == 1)
            #expect(gaps[0]["event_type"]?.stringValue == "gap")
            #expect(gaps[0]["room_id"]?.stringValue == "general")
            #expect(gaps[0]["data"]?["room_id"]?.stringValue == "general")
            #expect(gaps[0]["data"]?["last_event_id"]?.stringValue == ids[0])
            #expect(gaps[0]["data"]?["oldest_retained_id"]?.stringValue == ids[3])
            #expect(contents(stale) == ["m4", "m5", "m6"])
            #expect(stale["last_message_id"]?.stringValue == ids[5])

            // From the newest evicted event nothing is lost: no gap.
            let exact = try await pollBody(live, "client_id=g&last_message_id=\(ids[2])&timeout=0")
            #expect(exact["gaps"] == nil)
            #expect(contents(exact) == ["m4", "m5", "m6"])

            // A cursor the hub cannot read is a gap too, then everything retained.
            let unknown = try await pollBody(live, "client_id=g&last_message_id=garbage&timeout=0")
            #expect(unknown["gaps"]?.arrayValue?.first?["data"]?["last_event_id"]?.stringValue == "garbage")
            #expect(contents(unknown) == ["m4", "m5", "m6"])
        }
    }

    @Test func postMessagePublishesWithTheSeedsBody() async throws {
        try await withLiveHub { live in
            let sent = try await live.http.request("POST", "/message", json: ["type": "message", "content": "to general", "sender": "ann"])
            #expect(sent.status == 200)
            #expect(sent.body?["status"]?.stringValue == "sent")
            let id = try #require(sent.body?["message_id"]?.stringValue)
            #expect(EventID(id) != nil)
            #expect(sent.body?["event_id"]?.stringValue == id)
            #expect(sent.body?["room_id"]?.stringValue == "general")

            let elsewhere = try await live.http.request(
                "POST", "/message", json: ["type": "message", "content": "to news", "sender": "ann", "room": "news"])
            #expect(elsewhere.status == 200)
            #expect(elsewhere.body?["room_id"]?.stringValue == "news")

            let general = try await pollBody(live, "client_id=reader&timeout=0")
            #expect(contents(general) == ["to general"])
            #expect(general["messages"]?.arrayValue?.first?["sender"]?.stringValue == "ann")
            let news = try await pollBody(live, "client_id=reader&rooms=news&timeout=0")
            #expect(contents(news) == ["to news"])
        }
    }

    @Test func badQueryParametersGetJSONErrors() async throws {
        try await withLiveHub { live in
            let badTimeout = try await live.http.request("GET", "/poll?client_id=x&timeout=soon")
            #expect(badTimeout.status == 400)
            #expect(badTimeout.body?["error"]?["code"]?.stringValue == "invalid_field")
            let badRoom = try await live.http.request("GET", "/poll?client_id=x&rooms=no%20spaces&timeout=0")
            #expect(badRoom.status == 400)
            #expect(badRoom.body?["error"]?["code"]?.stringValue == "invalid_room")
            #expect(live.hub.room("no spaces") == nil)
        }
    }

    @Test func keepAliveClientCanMakeItsNextRequestAfterAPoll() async throws {
        // A client with a connection pool (like this one, or Python's requests.Session) sends its next request
        // right after a poll's answer; the connection must either stay usable or be announced as closing.
        try await withLiveHub { live in
            for i in 0..<20 {
                let poll = try await live.http.request("GET", "/poll?client_id=pooled&timeout=0")
                #expect(poll.status == 200)
                let keepAlive = poll.header("connection")?.lowercased() != "close"
                do {
                    let health = try await live.http.request("GET", "/health")
                    #expect(health.status == 200)
                } catch {
                    Issue.record("request \(i) after a poll (keep-alive: \(keepAlive)) failed: \(error)")
                }
            }
        }
    }

    @Test func pollingClientIsPresentUntilItsSessionTimesOut() async throws {
        let clock = ManualClock()
        try await withLiveHub({ $0.hub.pollSessionTimeout = .seconds(1) }, clock: clock) { live in
            let watcher = try await live.connect("watcher")
            _ = try await pollBody(live, "client_id=tab1&user_id=carol&timeout=0")
            let joined = try await watcher.next(type: "user_joined") { $0["user_id"]?.stringValue == "carol" }
            #expect(joined["room_id"]?.stringValue == "general")

            let presence = try await live.http.request("GET", "/api/rooms/general/presence")
            #expect(presence.status == 200)
            let carol = try #require(presence.body?["users"]?.arrayValue?.first { $0["user_id"]?.stringValue == "carol" })
            #expect(carol["connections"]?.intValue == 1)
            #expect(carol["transports"] == ["longpoll"])

            // A poll in progress keeps the session alive even when it lasts longer than the session timeout.
            async let long = answered("the 2.5 s poll") { try await pollBody(live, "client_id=tab1&user_id=carol&timeout=2.5") }
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }
            clock.advance(by: .seconds(2))
            await live.hub.sweep()
            #expect(live.hub.isPresent("carol", in: "general"), "present while polling, 2 s after the session timeout")
            clock.advance(by: .seconds(1))  // the poll's own timeout
            _ = try await long

            // Then the client stops polling: present until the session times out, gone after.
            clock.advance(by: .milliseconds(500))
            await live.hub.sweep()
            #expect(live.hub.isPresent("carol", in: "general"), "half a session timeout after the last poll")
            clock.advance(by: .seconds(1))
            await live.hub.sweep()
            let left = try await watcher.next(type: "user_left") { $0["user_id"]?.stringValue == "carol" }
            #expect(left["room_id"]?.stringValue == "general")
            let after = try await live.http.request("GET", "/api/rooms/general/presence")
            #expect(after.body?["users"]?.arrayValue?.contains { $0["user_id"]?.stringValue == "carol" } == false)
            await watcher.close()
        }
    }
}

/// Waits for `operation`, failing after `deadline` of real time: a poll that is never answered fails the
/// test instead of hanging it.
func answered<T: Sendable>(
    within deadline: Duration = .seconds(15), _ what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: deadline)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw ProbeError.timeout(what) }
        return value
    }
}

/// `GET /poll?query`, expecting 200; the JSON body.
private func pollBody(_ live: LiveHub, _ query: String) async throws -> JSONValue {
    let reply = try await live.http.request("GET", "/poll?" + query)
    guard reply.status == 200, let body = reply.body else {
        throw ProbeError.unexpected("poll \(query) failed: \(reply.status) \(reply.text)")
    }
    return body
}

/// The `content` of each message of a poll answer.
private func contents(_ body: JSONValue) -> [String] {
    body["messages"]?.arrayValue?.compactMap { $0["content"]?.stringValue } ?? []
}

@Suite(.timeLimit(.minutes(1))) struct LongPollSessionRoomTests {
    @Test func aSessionThatKeepsPollingOtherRoomsLeavesTheOneItStoppedPolling() async throws {
        // Three seconds: a loaded machine may take over a second to answer one of the back-to-back polls
        // below, and the session must not time out in `news` meanwhile.
        try await withLiveHub({ $0.hub.pollSessionTimeout = .seconds(3) }) { live in
            let watcher = try await live.connect("watcher")
            let first = try await live.http.request("GET", "/poll?client_id=c1&user_id=poller&rooms=general&timeout=0")
            #expect(first.status == 200)
            _ = try await watcher.next(type: "user_joined") { $0["user_id"]?.stringValue == "poller" }
            // From now on the client polls only `news`, back to back.
            let polling = Task {
                while !Task.isCancelled {
                    _ = try? await live.http.request("GET", "/poll?client_id=c1&user_id=poller&rooms=news&timeout=0.5")
                }
            }
            defer { polling.cancel() }
            let left = try await watcher.next(type: "user_left", timeout: .seconds(20)) { $0["user_id"]?.stringValue == "poller" }
            #expect(left["room_id"]?.stringValue == "general")
            let presence = try await live.http.request("GET", "/api/rooms/news/presence")
            #expect(presence.body?["users"]?.arrayValue?.contains { $0["user_id"]?.stringValue == "poller" } == true)
            polling.cancel()
            await watcher.close()
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct LongPollSessionEndTests {
    @Test func deletePollEndsTheCallersSessionAtOnce() async throws {
        try await withLiveHub(clock: ManualClock()) { live in
            let watcher = try await live.connect("watcher")
            _ = try await pollBody(live, "client_id=tab1&user_id=carol&timeout=0")
            _ = try await watcher.next(type: "user_joined") { $0["user_id"]?.stringValue == "carol" }

            // Another user cannot end carol's session with her client id.
            let stranger = try await live.http.request("DELETE", "/poll?client_id=tab1&user_id=mallory")
            #expect(stranger.status == 200)
            #expect(stranger.body?["ended"] == false)
            #expect(live.hub.isPresent("carol", in: "general"))

            let ended = try await live.http.request("DELETE", "/poll?client_id=tab1&user_id=carol")
            #expect(ended.status == 200)
            #expect(ended.body?["ended"] == true)
            // No clock moved, no sweep ran: she left because she said so.
            let left = try await watcher.next(type: "user_left") { $0["user_id"]?.stringValue == "carol" }
            #expect(left["room_id"]?.stringValue == "general")
            #expect(!live.hub.isPresent("carol", in: "general"))

            let again = try await live.http.request("DELETE", "/poll?client_id=tab1&user_id=carol")
            #expect(again.body?["ended"] == false)
            let missing = try await live.http.request("DELETE", "/poll?user_id=carol")
            #expect(missing.status == 400)
            #expect(missing.body?["error"]?["code"]?.stringValue == "missing_field")
            await watcher.close()
        }
    }

    @Test func aClientGoneMidPollIsGoneOneSessionTimeoutAfterThatPollBegan() async throws {
        let clock = ManualClock()
        try await withLiveHub({ $0.hub.pollSessionTimeout = .seconds(10) }, clock: clock) { live in
            // The last poll: it waits 2 s, and nobody polls again.
            async let last = answered("the 2 s poll") { try await pollBody(live, "client_id=tab1&user_id=dave&timeout=2") }
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }
            clock.advance(by: .seconds(2))
            _ = try await last
            clock.advance(by: .seconds(7))
            await live.hub.sweep()
            #expect(live.hub.isPresent("dave", in: "general"), "9 s after the poll began")
            // 11 s after the poll began: past the 10 s timeout, though only 9 s after its answer.
            clock.advance(by: .seconds(2))
            await live.hub.sweep()
            #expect(!live.hub.isPresent("dave", in: "general"))
        }
    }

    @Test func aPollLongerThanTheSessionTimeoutLeavesAShortGraceAfterItsAnswer() async throws {
        let clock = ManualClock()
        try await withLiveHub({ $0.hub.pollSessionTimeout = .seconds(10) }, clock: clock) { live in
            async let last = answered("the 12 s poll") { try await pollBody(live, "client_id=tab1&user_id=erin&timeout=12") }
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }
            clock.advance(by: .seconds(12))
            _ = try await last
            // 16 s after the poll began, past the 10 s timeout: still there, 4 s into the 5 s grace.
            clock.advance(by: .seconds(4))
            await live.hub.sweep()
            #expect(live.hub.isPresent("erin", in: "general"))
            clock.advance(by: .seconds(2))
            await live.hub.sweep()
            #expect(!live.hub.isPresent("erin", in: "general"))
        }
    }
}
