import MoonwireClient
import MoonwireCore
import Testing

/// `GET /history`: a client pages back through a room it follows, through its delivery filters.
@Suite(.timeLimit(.minutes(1))) struct ClientHistoryTests {
    @Test func pagesBackwardsFromTheNewestAndRefusesOutsiders() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            var ids: [String] = []
            for i in 1...5 { ids.append(try await live.publish("general", ["message": .string("m\(i)")])) }

            let newest = try await live.http.request("GET", "/history?room=general&user_id=alice&limit=2")
            #expect(newest.status == 200, "\(newest.text)")
            #expect(messages(newest.body) == ["m4", "m5"])
            #expect(newest.body?["has_more"] == true)

            let older = try await live.http.request("GET", "/history?room=general&user_id=alice&limit=2&before=\(ids[3])")
            #expect(messages(older.body) == ["m2", "m3"])
            #expect(older.body?["has_more"] == true)
            let oldest = try await live.http.request("GET", "/history?room=general&user_id=alice&limit=2&before=\(ids[1])")
            #expect(messages(oldest.body) == ["m1"])
            #expect(oldest.body?["has_more"] == false)

            let outsider = try await live.http.request("GET", "/history?room=general&user_id=zed")
            #expect(outsider.status == 400)
            #expect(outsider.body?["error"]?["code"]?.stringValue == "not_in_room")
            let bad = try await live.http.request("GET", "/history?room=general&user_id=alice&before=yesterday")
            #expect(bad.body?["error"]?["code"]?.stringValue == "invalid_field")
            let noRoom = try await live.http.request("GET", "/history?user_id=alice")
            #expect(noRoom.body?["error"]?["code"]?.stringValue == "missing_field")

            // The server API pages the same way, unfiltered.
            let api = try await live.http.request("GET", "/api/rooms/general/history?limit=2&before=\(ids[3])")
            #expect(messages(api.body) == ["m2", "m3"])
            #expect(api.body?["has_more"] == true)
            await alice.close()
        }
    }

    @Test func historyGoesThroughTheCallersDeliveryFilters() async throws {
        try await withLiveHub(plugins: .shipped(["private_rooms"])) { live in
            let alice = try await live.connect("alice")
            _ = try await live.publish("general", ["message": "write me", "email": "ann@example.com"])
            let page = try await live.http.request("GET", "/history?room=general&user_id=alice")
            let event = try #require(page.body?["events"]?.arrayValue?.last)
            #expect(event["data"]?["message"]?.stringValue == "write me")
            #expect(event["data"]?["email"] == nil, "redacted for a non-admin, as live")
            await alice.close()
        }
    }

    private func messages(_ body: JSONValue?) -> [String] {
        body?["events"]?.arrayValue?.compactMap { $0["data"]?["message"]?.stringValue } ?? []
    }
}
