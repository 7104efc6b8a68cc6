import Foundation
import MoonwireClient
import MoonwireCore
import Testing

/// Nobody connects or publishes as the hub's own `system`, nor as anything that looks like it, on any
/// transport; a caller holding the API key still may.
@Suite(.timeLimit(.minutes(1))) struct ReservedUserIDTests {
    static let lookAlikes = ["System", "system ", "ѕystem", "ｓｙｓｔｅｍ", "sys\u{200B}tem"]

    @Test func lookAlikesOfSystemAreRefusedOnEveryTransport() async throws {
        try await withLiveHub({ $0.apiKey = "k" }) { live in
            for id in Self.lookAlikes {
                let refused = try await live.connectRefused(["user_id": .string(id), "metadata": [:]])
                #expect(refused.error.errorCode == "invalid_field", "\(id)")
                #expect(refused.error.errorMessage?.contains("reserved") == true)
                let encoded = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let sse = try await live.refusedRequest("/events?user_id=\(encoded)")
                #expect(sse.status == 400 && sse.errorCode == "invalid_field", "SSE \(id): \(sse.text)")
                let poll = try await live.http.request("GET", "/poll?timeout=0&client_id=c&user_id=\(encoded)")
                #expect(poll.status == 400 && poll.errorCode == "invalid_field", "poll \(id): \(poll.text)")
            }
            #expect(live.hub.connections.isEmpty)
            // The server API, with its key, still publishes as the hub.
            let reply = try await live.http.request(
                "POST", "/api/publish", json: ["room": "general", "user_id": "system", "data": ["message": "from the hub"]],
                headers: [("X-API-Key", "k")])
            #expect(reply.status == 200)
        }
    }
}
