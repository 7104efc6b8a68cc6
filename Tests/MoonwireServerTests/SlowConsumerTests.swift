import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct SlowConsumerTests {
    @Test func aClientThatStopsReadingIsDisconnectedWithAReasonAndNobodyElseWaits() async throws {
        try await withLiveHub({ $0.hub.outboundQueueBytes = 64 * 1024 }) { live in
            let slow = try await RawWebSocket.open(port: live.port, authFrame: #"{"user_id":"slow"}"#)
            let fast = try await live.connect("fast")
            try await live.eventually("slow client joined") { live.hub.room("general")?.userCount == 2 }

            let payload = String(repeating: "x", count: 8 * 1024)
            let count = 1000
            let api = PublisherInfo(connection: nil, transport: .http, userID: "api")
            // Published in bursts the fast reader can keep up with (4 × 8 KiB, under its 64 KiB bound);
            // the slow one never reads.
            for burst in stride(from: 0, to: count, by: 4) {
                for i in burst..<(burst + 4) {
                    _ = try await live.hub.publish(
                        Event(type: .message, userID: "api", roomID: "general", data: ["n": .int(Int64(i)), "pad": .string(payload)]),
                        from: api, requireKnownType: false)
                }
                // The fast reader gets every event, in order.
                for i in burst..<(burst + 4) {
                    let message = try await fast.next(type: "message", timeout: .seconds(10))
                    #expect(message["data"]?["n"] == .int(Int64(i)))
                }
            }
            try await live.eventually("slow consumer disconnected") {
                live.hub.statistics.snapshot().disconnects["slow_consumer"] == 1
            }
            #expect(live.hub.connections(ofUser: "slow").isEmpty)
            #expect((live.hub.statistics.snapshot().drops["slow_consumer"] ?? 0) >= 1)

            // Its socket was dropped: reading what the kernel still holds reaches the end, short of the total.
            let frames = RawWebSocket.frames(in: slow.readToEnd())
            let received = frames.filter { $0.opcode == 0x1 }.count
            #expect(received > 0)
            #expect(received < count)
            await fast.close()
        }
    }
}
