import MoonwireClient
import MoonwireCore
import Testing

/// Presence cannot be turned into an amplifier: metadata is small (limits.max_metadata_bytes) and every
/// presence answer is a bounded page. (100 members with 1 MiB of metadata each used to make each
/// GET /presence 104 MB, and a WebSocket asking presence was cut off as too slow.)
@Suite(.timeLimit(.minutes(2))) struct PresenceLimitTests {
    /// Metadata whose JSON is exactly `bytes` long.
    static func metadata(bytes: Int) -> JSONObject {
        // {"pad":"…"} is 10 bytes around the padding.
        ["pad": .string(String(repeating: "m", count: bytes - 10))]
    }

    @Test func metadataOverTheLimitIsRefusedAtConnect() async throws {
        try await withLiveHub { live in
            let limit = live.hub.configuration.maxMetadataBytes
            #expect(limit == 2048)
            let refused = try await live.connectRefused(["user_id": "big", "metadata": .object(Self.metadata(bytes: limit + 1))])
            #expect(refused.error.errorCode == "payload_too_large")
            #expect(refused.error.errorMessage == "metadata of \(limit + 1) bytes is over the limit of \(limit) bytes (limits.max_metadata_bytes)")
            #expect(live.hub.connections(ofUser: "big").isEmpty)
            let (fits, _) = try await live.connectWelcomed(["user_id": "fits", "metadata": .object(Self.metadata(bytes: limit))])
            await fits.close()
        }
    }

    @Test func presenceOfALargeRoomIsPagedAndBoundedWhileANormalClientIsServed() async throws {
        try await withLiveHub { live in
            let limit = live.hub.configuration.maxMetadataBytes
            var members: [WebSocketProbe] = []
            for i in 0..<100 {
                members.append(
                    try await live.connect("member\(i < 10 ? "0" : "")\(i)", extra: ["metadata": .object(Self.metadata(bytes: limit)), "rooms": ["crowd"]]))
            }
            let normal = try await NormalClient.open(port: live.port)
            let http = live.http
            // 30 readers at once, each walking every page.
            let (pages, _) = try await normal.keepsServing {
                try await withThrowingTaskGroup(of: [(users: [String], bytes: Int)].self) { group in
                    for _ in 0..<30 {
                        group.addTask {
                            var walked: [(users: [String], bytes: Int)] = []
                            var after: String?
                            repeat {
                                let query = "room=crowd&user_id=member00" + (after.map { "&after=\($0)" } ?? "")
                                let reply = try await http.request("GET", "/presence?\(query)", timeout: .seconds(30))
                                guard reply.status == 200, let body = reply.body else { throw ProbeError.unexpected("\(reply.status) \(reply.text)") }
                                #expect(body["count"] == 100)
                                let users = body["users"]?.arrayValue?.compactMap { $0["user_id"]?.stringValue } ?? []
                                walked.append((users, reply.text.utf8.count))
                                after = body["truncated"] == true ? body["next"]?.stringValue : nil
                                if after != nil { #expect(body["next"]?.stringValue == users.last) }
                            } while after != nil && walked.count < 100
                            return walked
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            let maxAnswer = live.hub.configuration.maxEventBytes / 2 + 4096
            for walk in pages {
                #expect(walk.flatMap(\.users) == (0..<100).map { "member\($0 < 10 ? "0" : "")\($0)" }, "every member once, in order")
                #expect(walk.count >= 2, "100 members with 2 KiB of metadata do not fit one answer")
                #expect(walk.allSatisfy { $0.bytes <= maxAnswer && $0.users.count <= 100 })
            }
            // Over the WebSocket: answered (a page), and the asker is not cut off.
            let asker = members[0]
            try await asker.send(["event_type": "presence", "room_id": "crowd", "data": ["limit": 10]])
            let answer = try await asker.next(type: "presence", timeout: .seconds(10))
            #expect(answer["data"]?["users"]?.arrayValue?.count == 10)
            #expect(answer["data"]?["truncated"] == true)
            #expect(answer["data"]?["next"] == "member09")
            let reply = try await asker.request(["event_type": "message", "room_id": "crowd", "data": ["message": "still here"]])
            #expect(reply["event_type"] == "ack")
            for member in members { await member.close() }
            await normal.close()
        }
    }
}
