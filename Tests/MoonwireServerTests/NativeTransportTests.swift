import Foundation
import MoonwireCore
import NIOCore
@testable import MoonwireServer
import Testing

/// `GET /poll` and `GET /events` as the connection's own pipeline serves them (`TransportRouter`): in order
/// with the requests Hummingbird serves on the same keep-alive connection, released when their client goes,
/// with the headers every other answer has.
@Suite(.timeLimit(.minutes(1))) struct NativeTransportTests {
    static let poll = "/poll?client_id=pipe&user_id=pipe&rooms=general&timeout=0"

    @Test func pipelinedPollsAndOtherRequestsAreAnsweredInTheOrderSent() async throws {
        try await withLiveHub { live in
            _ = try await live.publish("general", ["text": "one"])
            let connection = try RawHTTPConnection(port: live.port)
            let host = "127.0.0.1:\(live.port)"
            try connection.send(
                RawHTTPConnection.requestText("GET", Self.poll, host: host)
                    + RawHTTPConnection.requestText("GET", "/health", host: host)
                    + RawHTTPConnection.requestText("GET", Self.poll, host: host)
                    + RawHTTPConnection.requestText("GET", "/api/rooms/general/history", host: host))
            let first = try #require(try await connection.readResponse())
            let second = try #require(try await connection.readResponse())
            let third = try #require(try await connection.readResponse())
            let fourth = try #require(try await connection.readResponse())
            #expect(first.status == 200)
            #expect(first.json?["messages"]?.arrayValue?.count == 1)
            #expect(second.json?["status"]?.stringValue == "ok")
            #expect(third.status == 200)
            #expect(third.json?["user_id"]?.stringValue == "pipe")
            #expect(fourth.status == 200)
            #expect(fourth.json?["events"]?.arrayValue?.count == 1)

            // Many at once: each waits for the one before it, and all are answered.
            let rounds = 25
            try connection.send(
                String(
                    repeating: RawHTTPConnection.requestText("GET", Self.poll, host: host)
                        + RawHTTPConnection.requestText("GET", "/health", host: host), count: rounds))
            for round in 0..<rounds {
                let poll = try #require(try await connection.readResponse(), "round \(round)")
                let health = try #require(try await connection.readResponse(), "round \(round)")
                #expect(poll.json?["user_id"]?.stringValue == "pipe", "round \(round)")
                #expect(health.json?["status"]?.stringValue == "ok", "round \(round)")
            }
        }
    }

    @Test func aParkedPollIsReleasedAsSoonAsItsClientGoesAway() async throws {
        try await withLiveHub { live in
            var connection: RawHTTPConnection? = try RawHTTPConnection(port: live.port)
            try connection?.send(
                RawHTTPConnection.requestText("GET", "/poll?client_id=gone&rooms=general&timeout=60", host: "127.0.0.1:\(live.port)"))
            try await live.eventually("the poll to wait") { live.hub.statistics.snapshot().pollWaiting == 1 }
            connection = nil
            // Far sooner than its 60 s timeout.
            try await live.eventually("the poll to stop waiting", timeout: .seconds(20)) {
                live.hub.statistics.snapshot().pollWaiting == 0
            }
            // The session itself stays for its timeout, as with any poll that ends: the user is still present.
            #expect(live.hub.connections(ofUser: "gone").count == 1)
        }
    }

    @Test func aStreamAfterAPollOnOneConnectionStartsOnceThePollIsAnswered() async throws {
        try await withLiveHub { live in
            let connection = try RawHTTPConnection(port: live.port)
            let host = "127.0.0.1:\(live.port)"
            try connection.send(
                RawHTTPConnection.requestText("GET", Self.poll, host: host)
                    + RawHTTPConnection.requestText("GET", "/events?user_id=streamer&rooms=general", host: host, headers: [("Origin", "http://\(host)")]))
            let poll = try #require(try await connection.readResponse())
            #expect(poll.json?["user_id"]?.stringValue == "pipe")
            let stream = try #require(try await connection.readResponse())
            #expect(stream.status == 200)
            #expect(stream.headers["content-type"] == "text/event-stream; charset=utf-8")
            #expect(stream.headers["cache-control"] == "no-cache")
            #expect(stream.headers["access-control-allow-origin"] == "http://\(host)")
            #expect(stream.headers["transfer-encoding"] == "chunked")
            try await live.eventually("the streamer to be present") { live.hub.connections(ofUser: "streamer").count == 1 }
        }
    }

    @Test func aClientThatHalfClosesStillGetsItsAnswers() async throws {
        try await withLiveHub { live in
            let connection = try RawHTTPConnection(port: live.port)
            let host = "127.0.0.1:\(live.port)"
            try connection.send(
                RawHTTPConnection.requestText("GET", "/poll?client_id=half&rooms=general&timeout=1", host: host)
                    + RawHTTPConnection.requestText("GET", Self.poll, host: host))
            connection.shutdownWrite()
            let first = try #require(try await connection.readResponse())
            let second = try #require(try await connection.readResponse())
            #expect(first.status == 200)
            #expect(first.json?["messages"]?.arrayValue?.isEmpty == true)
            #expect(second.json?["user_id"]?.stringValue == "pipe")
        }
    }

    @Test func thousandsOfRefusedRequestsWaitingBehindAPollAreAllAnswered() async throws {
        try await withLiveHub { live in
            let connection = try RawHTTPConnection(port: live.port)
            let host = "127.0.0.1:\(live.port)"
            let refused = RawHTTPConnection.requestText("GET", Self.poll, host: host, headers: [("Origin", "http://evil.example")])
            let count = 3000
            // The last asks to close: the whole conversation is then read at once (parsing 3,000 answers one
            // by one off the front of a buffer costs the test more than the hub).
            let last = RawHTTPConnection.requestText(
                "GET", Self.poll, host: host, headers: [("Origin", "http://evil.example"), ("Connection", "close")])
            try connection.send(
                RawHTTPConnection.requestText("GET", "/poll?client_id=first&rooms=general&timeout=1", host: host)
                    + String(repeating: refused, count: count - 1) + last)
            let text = String(decoding: try await connection.readToEnd(timeout: .seconds(30)), as: UTF8.self)
            // (A body has no line end of its own: the next status line follows it directly.)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses.first == "200")
            #expect(statuses.count == count + 1, "every request answered")
            #expect(statuses.dropFirst().allSatisfy { $0 == "403" }, "\(Set(statuses.dropFirst()))")
        }
    }

    @Test func anHTTP10StreamClosesTheConnection() async throws {
        try await withLiveHub { live in
            let connection = try RawHTTPConnection(port: live.port)
            try connection.send("GET /events?user_id=old&rooms=general HTTP/1.0\r\nHost: 127.0.0.1:\(live.port)\r\nConnection: keep-alive\r\n\r\n")
            let head = try #require(try await connection.readResponse())
            #expect(head.status == 200)
            #expect(head.headers["connection"] == "close")
            #expect(head.headers["transfer-encoding"] == nil)
        }
    }

    @Test func aStreamEndsItsConnectionAsSoonAsItsClientGoes() async throws {
        try await withLiveHub { live in
            var connection: RawHTTPConnection? = try RawHTTPConnection(port: live.port)
            try connection?.send(
                RawHTTPConnection.requestText("GET", "/events?user_id=leaver&rooms=general", host: "127.0.0.1:\(live.port)"))
            try await live.eventually("the stream to open") { live.hub.connections(ofUser: "leaver").count == 1 }
            connection = nil
            try await live.eventually("the stream's connection to end", timeout: .seconds(20)) {
                live.hub.connections(ofUser: "leaver").isEmpty
            }
            #expect(live.hub.room("general")?.userCount ?? 0 == 0)
        }
    }

    @Test func answersCarryTheHeadersOfEveryOtherAnswer() async throws {
        try await withLiveHub { live in
            let origin = "http://127.0.0.1:\(live.port)"
            let answer = try await RawHTTPConnection.request(port: live.port, Self.poll, headers: [("Origin", origin)])
            #expect(answer.status == 200)
            #expect(answer.headers["content-type"] == "application/json; charset=utf-8")
            #expect(answer.headers["cache-control"] == "no-store")
            #expect(answer.headers["server"] == "Moonwire")
            #expect(answer.headers["access-control-allow-origin"] == origin)
            #expect(answer.headers["vary"] == "Origin")
            let date = try #require(answer.headers["date"])
            #expect(date.hasSuffix(" GMT") && date.count == 29, "\(date)")

            let refused = try await RawHTTPConnection.request(port: live.port, Self.poll, headers: [("Origin", "http://evil.example")])
            #expect(refused.status == 403)
            #expect(refused.errorCode == "origin_not_allowed")
            #expect(refused.headers["access-control-allow-origin"] == nil)

            let invalid = try await RawHTTPConnection.request(port: live.port, "/poll?timeout=soon")
            #expect(invalid.status == 400)
            #expect(invalid.errorCode == "invalid_field")

            // HTTP/1.0 without keep-alive: answered, then closed.
            let old = try RawHTTPConnection(port: live.port)
            try old.send("GET \(Self.poll) HTTP/1.0\r\nHost: 127.0.0.1:\(live.port)\r\n\r\n")
            let oldAnswer = try #require(try await old.readResponse())
            #expect(oldAnswer.status == 200)
            #expect(oldAnswer.headers["connection"] == "close")
            _ = try await old.readToEnd()
            #expect(old.sawEnd)
        }
    }

    @Test func aConnectionThatPolledCanStillUpgradeToWebSocket() async throws {
        try await withLiveHub { live in
            let connection = try RawHTTPConnection(port: live.port)
            let host = "127.0.0.1:\(live.port)"
            try connection.send(RawHTTPConnection.requestText("GET", Self.poll, host: host))
            #expect(try await connection.readResponse()?.status == 200)
            try connection.send(
                RawHTTPConnection.requestText(
                    "GET", "/ws", host: host,
                    headers: [
                        ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                        ("Sec-WebSocket-Version", "13"),
                    ]))
            let upgraded = try #require(try await connection.readResponse(bodyless: true))
            #expect(upgraded.status == 101)
            #expect(upgraded.headers["upgrade"]?.lowercased() == "websocket")
        }
    }

    @Test func queriesAreSplitAndDecodedAsHummingbirdDoes() {
        let query = RequestQuery(target: "/poll?rooms=a,%20b,a&room=c&room=a&user_id=al%C3%AFce&x=1&x=2&flag&bad=50%zz&plus=a+b#frag=1")
        #expect(query.rooms == ["a", "b", "c"])
        #expect(query["user_id"] == "alïce")
        #expect(query["x"] == "1")
        #expect(query.values["x"] == "2")
        #expect(query["flag"] == "")
        #expect(query["bad"] == "50%zz")
        #expect(query["plus"] == "a+b")
        #expect(query["frag"] == nil)
        #expect(RequestQuery(target: "/poll").rooms == nil)
        #expect(RequestQuery(target: "/poll?&&").values.isEmpty)
    }

    @Test func chunksAreFramedAsHTTPWants() {
        let chunk = SSEEventFormat.chunk(ByteBuffer(string: String(repeating: "x", count: 300)))
        #expect(String(buffer: chunk) == "12c\r\n" + String(repeating: "x", count: 300) + "\r\n")
    }

    @Test func datesAreFormattedAsHTTPWants() {
        #expect(HTTPDate.format(secondsSince1970: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(secondsSince1970: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.now().hasSuffix(" GMT"))
    }
}
