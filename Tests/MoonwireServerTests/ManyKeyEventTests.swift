import MoonwireClient
import MoonwireCore
import Testing

/// An event whose `data` has many keys costs time linear in its size, with the shipped plugins on (their
/// hooks turn the event into Lua tables and back): four such publishes at once used to freeze the hub for
/// about a minute (16,000 keys: 84 s of CPU each in a debug build).
@Suite(.timeLimit(.minutes(3))) struct ManyKeyEventTests {
    static let plugins = LivePlugins.shipped(["auth", "private_rooms", "moderation", "reactions", "dashboard"])

    /// `{"k0": 0, "k1": 1, ...}`.
    static func manyKeys(_ count: Int) -> JSONValue {
        var object = JSONObject()
        for i in 0..<count { object["k\(i)"] = .int(Int64(i)) }
        return .object(object)
    }

    @Test func fourPublishesOf16000KeysAreAnsweredWhileANormalClientIsServed() async throws {
        try await withLiveHub(plugins: Self.plugins) { live in
            let normal = try await NormalClient.open(port: live.port)
            // The attacker follows a room (POST /publish wants the sender present) and publishes there.
            let attacker = try await live.connect("attacker")
            try await attacker.join("keys")
            let data = Self.manyKeys(16_000)
            let http = live.http
            let (statuses, roundTrips) = try await normal.keepsServing {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            let reply = try await http.request(
                                "POST", "/publish", json: ["room": "keys", "user_id": "attacker", "event_type": "message", "data": data],
                                timeout: .seconds(120))
                            return reply.status
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
            #expect(statuses == [200, 200, 200, 200])
            #expect(roundTrips >= 1)
            // Delivered whole: the plugins passed every key through.
            let delivered = try await attacker.next(type: "message", timeout: .seconds(30))
            #expect(delivered["data"]?.objectValue?.count == 16_000)
            #expect(delivered["data"]?["k15999"] == 15_999)
            await attacker.close()
            await normal.close()
        }
    }
}
