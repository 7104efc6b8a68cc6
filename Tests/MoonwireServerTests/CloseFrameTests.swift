import Foundation
import MoonwireClient
import MoonwireCore
import MoonwireServer
import Testing

/// What a WebSocket client sees when the hub closes it, and the frames the hub refuses.
@Suite(.timeLimit(.minutes(1))) struct CloseFrameTests {
    /// A close frame's payload holds at most 125 bytes: the code and 123 bytes of reason.
    static func expectValidClose(_ payload: [UInt8], code: Int, reasonPrefixOf full: String) {
        #expect(payload.count <= 125)
        guard let (got, reasonBytes) = RawWebSocket.closeFrame(payload) else {
            Issue.record("close frame without a code")
            return
        }
        #expect(got == code)
        let reason = String(validating: reasonBytes, as: UTF8.self)
        #expect(reason != nil, "the reason is cut inside a character")
        #expect(full.hasPrefix(reason ?? "\u{0}"))
        #expect(reasonBytes.count > 100 || reasonBytes.count == full.utf8.count)
    }

    @Test func aKickWithALongReasonClosesWith4004AndTheReasonCutAtACharacter() async throws {
        try await withLiveHub { live in
            let kicked = try await RawWebSocket.open(port: live.port, authFrame: #"{"user_id":"kicked"}"#)
            let bystander = try await live.connect("bystander")
            try await live.eventually("kicked joined") { live.hub.connections(ofUser: "kicked").count == 1 }
            let reason = String(repeating: "é", count: 100)  // 200 bytes; 123 falls inside a character
            let reply = try await live.http.request("POST", "/api/users/kicked/disconnect", json: ["reason": .string(reason)])
            #expect(reply.status == 200)
            let (frames, _) = try await kicked.readFrames()
            let close = try #require(frames.last { $0.opcode == 0x8 }, "no close frame")
            Self.expectValidClose(close.payload, code: 4004, reasonPrefixOf: reason)
            #expect(close.payload.count == 2 + 122)
            // Others are not affected.
            try await live.publish("general", ["message": "still here"])
            _ = try await bystander.next(type: "message", where: { $0.chatText == "still here" })
            await bystander.close()
        }
    }

    @Test func aRefusedOriginWithALongNameGetsAValidCloseFrame() async throws {
        try await withLiveHub { live in
            let origin = "http://" + String(repeating: "a", count: 150) + ".example"
            let refused = try await RawWebSocket.open(port: live.port, authFrame: #"{"user_id":"x"}"#, headers: [("Origin", origin)])
            let (frames, _) = try await refused.readFrames()
            let error = try #require(frames.first { $0.opcode == 0x1 })
            let message = try #require(try JSONParser().parse(error.payload)["data"]?["message"]?.stringValue)
            #expect(message.contains(origin))
            let close = try #require(frames.last { $0.opcode == 0x8 }, "no close frame")
            Self.expectValidClose(close.payload, code: 1008, reasonPrefixOf: message)
        }
    }

    @Test func aSlowConsumerGets4008AndTheReasonWhileOthersKeepUp() async throws {
        // The hub's clock stands still: however long a loaded machine keeps the slow reader from reading, the
        // hub never judges its close stuck (that rule has its own tests, CloseGraceTests).
        try await withLiveHub({
            $0.hub.outboundQueueBytes = 64 * 1024
            $0.hub.maxEventBytes = 16 * 1024
        }, clock: ManualClock()) { live in
            let slow = try await RawWebSocket.open(port: live.port, authFrame: #"{"user_id":"slow"}"#)
            let fast = try await live.connect("fast")
            try await live.eventually("slow joined") { live.hub.connections(ofUser: "slow").count == 1 }
            // The slow client reads 4 KiB every 5 ms (under 1 MB/s) while events come faster than that.
            let reader = Task { try await slow.readFrames(untilClose: .seconds(40), chunk: 4096, readPause: .milliseconds(5)) }
            let pad = String(repeating: "x", count: 8 * 1024)
            let api = PublisherInfo(connection: nil, transport: .http, userID: "api")
            var published = 0
            while live.hub.statistics.snapshot().drops["slow_consumer"] ?? 0 == 0, published < 20_000 {
                for _ in 0..<4 {
                    _ = try await live.hub.publish(
                        Event(type: .message, userID: "api", roomID: "general", data: ["n": .int(Int64(published)), "pad": .string(pad)]),
                        from: api, requireKnownType: false)
                    published += 1
                }
                // The fast client keeps up.
                let last = JSONValue.int(Int64(published - 1))
                _ = try await fast.next(type: "message", timeout: .seconds(10), where: { $0["data"]?["n"] == last })
            }
            #expect((live.hub.statistics.snapshot().drops["slow_consumer"] ?? 0) == 1)
            let (frames, _) = try await reader.value
            let close = try #require(frames.last { $0.opcode == 0x8 }, "no close frame after \(frames.count) frames")
            Self.expectValidClose(close.payload, code: 4008, reasonPrefixOf: DisconnectReason.slowConsumer.message)
            #expect(RawWebSocket.closeFrame(close.payload)?.reason.count == DisconnectReason.slowConsumer.message.utf8.count)
            #expect(frames.filter { $0.opcode == 0x1 }.count < published)
            await fast.close()
        }
    }

    @Test func unmaskedFramesAreRefusedWith1002() async throws {
        try await withLiveHub { live in
            let bystander = try await live.connect("bystander")
            // After the auth frame.
            let client = try await RawWebSocket.open(port: live.port, authFrame: #"{"user_id":"unmasked"}"#)
            try await live.eventually("joined") { live.hub.connections(ofUser: "unmasked").count == 1 }
            try client.sendAll(RawWebSocket.frame(opcode: 0x1, payload: Array(#"{"event_type":"heartbeat"}"#.utf8), masked: false))
            let (frames, _) = try await client.readFrames()
            let close = try #require(frames.last { $0.opcode == 0x8 }, "no close frame")
            Self.expectValidClose(close.payload, code: 1002, reasonPrefixOf: DisconnectReason.unmaskedFrame.message)
            try await live.eventually("disconnect recorded") { live.hub.statistics.snapshot().disconnects["protocol_error"] == 1 }
            // As the auth frame.
            let first = try await RawWebSocket.open(port: live.port, authFrame: nil)
            try first.sendAll(RawWebSocket.frame(opcode: 0x1, payload: Array(#"{"user_id":"unmasked2"}"#.utf8), masked: false))
            let (firstFrames, _) = try await first.readFrames()
            #expect(RawWebSocket.closeFrame(firstFrames.last { $0.opcode == 0x8 }?.payload ?? [])?.code == 1002)
            #expect(live.hub.connections(ofUser: "unmasked2").isEmpty)
            // Others carry on.
            try await live.publish("general", ["message": "still here"])
            _ = try await bystander.next(type: "message", where: { $0.chatText == "still here" })
            await bystander.close()
        }
    }

    @Test func textThatIsNotUTF8IsRefusedWith1007SoIDsCannotMerge() async throws {
        try await withLiveHub { live in
            // "a\xFFb" would read as "a\u{FFFD}b" if repaired, the same user as any other broken name.
            let broken = Array(#"{"user_id":"a"#.utf8) + [0xFF] + Array(#"b"}"#.utf8)
            let first = try await RawWebSocket.open(port: live.port, authFrame: nil)
            try first.sendAll(RawWebSocket.frame(opcode: 0x1, payload: broken))
            let (frames, _) = try await first.readFrames()
            let close = try #require(frames.last { $0.opcode == 0x8 }, "no close frame")
            Self.expectValidClose(close.payload, code: 1007, reasonPrefixOf: DisconnectReason.invalidText.message)
            #expect(live.hub.connections(ofUser: "a\u{FFFD}b").isEmpty)

            // After the auth frame too.
            let client = try await RawWebSocket.open(port: live.port, authFrame: #"{"user_id":"text"}"#)
            try await live.eventually("joined") { live.hub.connections(ofUser: "text").count == 1 }
            try client.sendAll(RawWebSocket.frame(opcode: 0x1, payload: Array(#"{"event_type":"message","data":{"message":"x"#.utf8) + [0xC3, 0x28] + Array(#""}}"#.utf8)))
            let (later, _) = try await client.readFrames()
            #expect(RawWebSocket.closeFrame(later.last { $0.opcode == 0x8 }?.payload ?? [])?.code == 1007)
            try await live.eventually("disconnect recorded") { live.hub.statistics.snapshot().disconnects["invalid_utf8"] == 1 }

            // A binary frame is parsed as JSON, whose strings must be UTF-8: an error event, the connection stays.
            let binary = try await RawWebSocket.open(port: live.port, authFrame: #"{"user_id":"binary"}"#)
            try await live.eventually("joined") { live.hub.connections(ofUser: "binary").count == 1 }
            try binary.sendAll(RawWebSocket.frame(opcode: 0x2, payload: broken))
            try binary.sendAll(RawWebSocket.maskedTextFrame(#"{"event_type":"heartbeat"}"#))
            let (binaryFrames, _) = try await binary.readFrames(untilClose: .seconds(2))
            let events = binaryFrames.filter { $0.opcode == 0x1 }.compactMap { try? JSONParser().parse($0.payload) }
            #expect(events.contains { $0["data"]?["code"] == "malformed_frame" })
            #expect(events.contains { $0["event_type"] == "heartbeat" })
            #expect(!binaryFrames.contains { $0.opcode == 0x8 })
        }
    }
}
