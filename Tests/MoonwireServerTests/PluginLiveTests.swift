import MoonwireClient
import MoonwireCore
import MoonwirePlugins
import Testing

/// Every hook and verdict of the plugin model over a live server and every transport where it applies,
/// with the shipped plugins (auth, private_rooms, moderation, reactions, dashboard) and tiny test plugins.
@Suite(.timeLimit(.minutes(1))) struct PluginLiveTests {
    // MARK: on_connect

    @Test func onConnectOverWebSocketAllowsStaticTokensAndJWTsAndDeniesWithError4001() async throws {
        try await withLiveHub(plugins: .shipped(["auth", "private_rooms"], settings: ["auth": authSettings(anonymous: false)])) { live in
            // A static token names the user, whatever user_id the frame claims.
            let (alice, aliceWelcome) = try await live.connectWelcomed(["user_id": "mallory", "metadata": [:], "token": "t-alice"])
            #expect(aliceWelcome["data"]?["user_id"]?.stringValue == "alice")
            #expect(aliceWelcome["data"]?["message"]?.stringValue == "Welcome alice!")

            // An HS256 JWT: user from `sub`, roles from `roles`, `name` added to the metadata.
            let jwt = signJWT(["sub": "jules", "roles": ["admin"], "name": "Jules", "exp": .double(unixNow + 600)], secret: jwtSecret)
            let (jules, julesWelcome) = try await live.connectWelcomed(["metadata": ["color": "red"], "token": .string(jwt)])
            #expect(julesWelcome["data"]?["user_id"]?.stringValue == "jules")
            #expect(try await jules.joinAnswered("admin").isAck, "the JWT's admin role opens the admin room")
            let presence = try await live.http.request("GET", "/api/rooms/general/presence")
            let julesEntry = presence.body?["users"]?.arrayValue?.first { $0["user_id"]?.stringValue == "jules" }
            #expect(julesEntry?["metadata"]?["name"]?.stringValue == "Jules")
            #expect(julesEntry?["metadata"]?["color"]?.stringValue == "red")
            #expect(try await alice.joinAnswered("admin").errorCode == "join_refused", "alice's static token has no roles")

            // The token may also come from the upgrade request's Authorization header.
            let (viaHeader, headerWelcome) = try await live.connectWelcomed(["metadata": [:]], headers: [("Authorization", "Bearer t-bob")])
            #expect(headerWelcome["data"]?["user_id"]?.stringValue == "bob")

            // Denials: an error event carrying the plugin's reason, then close 4001 with that reason.
            let expired = signJWT(["sub": "jules", "exp": .double(unixNow - 3600)], secret: jwtSecret)
            let forged = signJWT(["sub": "root", "roles": ["admin"], "exp": .double(unixNow + 600)], secret: "not-the-secret")
            let noSubject = signJWT(["exp": .double(unixNow + 600)], secret: jwtSecret)
            let cases: [(JSONObject, String)] = [
                (["user_id": "alice", "metadata": [:]], "a token is required"),
                (["user_id": "alice", "token": "nope"], "invalid token: malformed token"),
                (["user_id": "alice", "token": .string(expired)], "invalid token: token expired"),
                (["user_id": "alice", "token": .string(forged)], "invalid token: bad signature"),
                (["token": .string(noSubject)], "the token has no subject (sub)"),
            ]
            for (frame, reason) in cases {
                let refused = try await live.connectRefused(frame)
                #expect(refused.error["event_type"]?.stringValue == "error")
                #expect(refused.error.errorCode == (reason == "a token is required" ? "auth_required" : "auth_failed"), "frame \(frame)")
                #expect(refused.error.errorMessage == reason, "frame \(frame)")
                #expect(refused.error["error"]?.stringValue == reason, "the seed's top-level error field")
                #expect(refused.closeCode == 4001, "frame \(frame)")
                #expect(refused.closeReason == reason, "frame \(frame)")
            }
            #expect(Set(live.hub.connections.map(\.userID)) == ["alice", "jules", "bob"])
            await alice.close()
            await jules.close()
            await viaHeader.close()
        }
    }

    @Test func onConnectOverSSEReadsTheTokenQueryAndDeniesWith401() async throws {
        try await withLiveHub(plugins: .shipped(["auth"], settings: ["auth": authSettings(anonymous: false)])) { live in
            let alice = try await live.stream("/events?token=t-alice&user_id=mallory")
            #expect(alice.stream.status == 200)
            let welcome = try await alice.next(event: "notification")
            #expect(welcome.json?["data"]?["user_id"]?.stringValue == "alice")

            let jwt = signJWT(["sub": "jules", "exp": .double(unixNow + 600)], secret: jwtSecret)
            let jules = try await live.stream("/events?token=\(jwt)")
            #expect(try await jules.next(event: "notification").json?["data"]?["user_id"]?.stringValue == "jules")

            let bearer = try await live.stream("/events", headers: [("Authorization", "Bearer t-bob")])
            #expect(try await bearer.next(event: "notification").json?["data"]?["user_id"]?.stringValue == "bob")

            // Delivery works on an authenticated stream.
            try await live.publish("general", ["message": "hello streams"])
            #expect(try await alice.next(event: "message").json?.chatText == "hello streams")

            let expired = signJWT(["sub": "jules", "exp": .double(unixNow - 3600)], secret: jwtSecret)
            let cases: [(String, String)] = [
                ("/events?user_id=alice", "a token is required"),
                ("/events?token=nope", "invalid token: malformed token"),
                ("/events?token=\(expired)", "invalid token: token expired"),
            ]
            for (path, reason) in cases {
                let reply = try await live.refusedRequest(path, headers: [("Accept", "text/event-stream")])
                #expect(reply.status == 401, "\(path): \(reply.text)")
                #expect(reply.errorCode == (reason == "a token is required" ? "auth_required" : "auth_failed"), "\(path)")
                #expect(reply.errorMessage == reason, "\(path)")
            }
            #expect(live.hub.connections.count == 3)
            alice.close()
            jules.close()
            bearer.close()
        }
    }

    @Test func onConnectOverLongPollReadsTheBearerTokenAndDeniesWith401() async throws {
        try await withLiveHub(plugins: .shipped(["auth"], settings: ["auth": authSettings(anonymous: false)])) { live in
            let ok = try await live.http.request("GET", "/poll?client_id=tab&user_id=mallory&timeout=0", headers: [("Authorization", "Bearer t-alice")])
            #expect(ok.status == 200, "\(ok.text)")
            let jwt = signJWT(["sub": "jules", "exp": .double(unixNow + 600)], secret: jwtSecret)
            let viaJWT = try await live.http.request("GET", "/poll?client_id=tab2&timeout=0", headers: [("Authorization", "Bearer \(jwt)")])
            #expect(viaJWT.status == 200, "\(viaJWT.text)")
            let viaQuery = try await live.http.request("GET", "/poll?client_id=tab3&timeout=0&token=t-bob")
            #expect(viaQuery.status == 200, "\(viaQuery.text)")
            let presence = try await live.http.request("GET", "/api/rooms/general/presence")
            let users = presence.body?["users"]?.arrayValue ?? []
            #expect(Set(users.compactMap { $0["user_id"]?.stringValue }) == ["alice", "jules", "bob"], "\(presence.text)")
            #expect(users.allSatisfy { $0["transports"] == ["longpoll"] })

            let expired = signJWT(["sub": "jules", "exp": .double(unixNow - 3600)], secret: jwtSecret)
            let cases: [([(String, String)], String)] = [
                ([], "a token is required"),
                ([("Authorization", "Bearer nope")], "invalid token: malformed token"),
                ([("Authorization", "Bearer \(expired)")], "invalid token: token expired"),
            ]
            for (headers, reason) in cases {
                let reply = try await live.http.request("GET", "/poll?client_id=denied&user_id=alice&timeout=0", headers: headers)
                #expect(reply.status == 401, "\(headers): \(reply.text)")
                #expect(reply.errorCode == (reason == "a token is required" ? "auth_required" : "auth_failed"))
                #expect(reply.errorMessage == reason)
            }

            // POST /message is authenticated the same way: the token names the sender.
            let sent = try await live.http.request(
                "POST", "/message", json: ["content": "signed", "sender": "mallory"], headers: [("Authorization", "Bearer t-alice")])
            #expect(sent.status == 200, "\(sent.text)")
            let poll = try await live.http.request("GET", "/poll?client_id=tab&timeout=0", headers: [("Authorization", "Bearer t-alice")])
            let message = poll.body?["messages"]?.arrayValue?.last
            #expect(message?["content"]?.stringValue == "signed")
            #expect(message?["sender"]?.stringValue == "alice")
            let refused = try await live.http.request("POST", "/message", json: ["content": "unsigned", "sender": "mallory"])
            #expect(refused.status == 401)
        }
    }

    @Test func anonymousClientsNameThemselvesWhenAllowed() async throws {
        try await withLiveHub(plugins: .shipped(["auth"], settings: ["auth": authSettings(anonymous: true)])) { live in
            let (anna, welcome) = try await live.connectWelcomed(["user_id": "anna", "metadata": [:]])
            #expect(welcome["data"]?["user_id"]?.stringValue == "anna")
            let (alice, aliceWelcome) = try await live.connectWelcomed(["user_id": "anna", "token": "t-alice"])
            #expect(aliceWelcome["data"]?["user_id"]?.stringValue == "alice", "a token still wins over the claimed name")
            let system = try await live.connectRefused(["user_id": "system"])
            #expect(system.closeCode == 4001)
            #expect(system.error.errorMessage == "user_id 'system' is reserved")
            let noName = try await live.connectRefused(["metadata": [:]])
            #expect(noName.closeCode == 4001)

            let stream = try await live.stream("/events?user_id=sue")
            #expect(try await stream.next(event: "notification").json?["data"]?["user_id"]?.stringValue == "sue")
            let poll = try await live.http.request("GET", "/poll?client_id=p&user_id=pat&timeout=0")
            #expect(poll.status == 200)
            stream.close()
            await anna.close()
            await alice.close()
        }
    }

    /// The auth plugin denies a client without a token with the code `auth_required`; the client should see
    /// the code the plugin chose (the issue: "deny with a code and a reason the client sees").
    @Test func deniedConnectionCarriesThePluginsCode() async throws {
        try await withLiveHub(plugins: .shipped(["auth"], settings: ["auth": authSettings(anonymous: false)])) { live in
            let refused = try await live.connectRefused(["user_id": "alice"])
            #expect(refused.error.errorCode == "auth_required", "WebSocket: \(refused.error)")
            #expect(refused.closeCode == 4001)
            let sse = try await live.refusedRequest("/events?user_id=alice", headers: [("Accept", "text/event-stream")])
            #expect(sse.status == 401)
            #expect(sse.errorCode == "auth_required", "SSE: \(sse.text)")
            let poll = try await live.http.request("GET", "/poll?client_id=x&user_id=alice&timeout=0")
            #expect(poll.status == 401)
            #expect(poll.errorCode == "auth_required", "long-poll: \(poll.text)")
        }
    }

    // MARK: on_join

    @Test func onJoinOverWebSocketAllowsAndRefusesByRoomRules() async throws {
        try await withLiveHub(plugins: .shipped(["auth", "private_rooms"], settings: ["auth": authSettings(anonymous: false)])) { live in
            let (alice, _) = try await live.connectWelcomed(["token": "t-alice"])
            let (sam, _) = try await live.connectWelcomed(["token": "t-sam"])
            let (root, _) = try await live.connectWelcomed(["token": "t-root"])

            #expect(try await alice.joinAnswered("user-alice").isAck, "her own private room")
            #expect(try await alice.joinAnswered("lobby").isAck, "a room without a rule")
            let cases: [(WebSocketProbe, String, String)] = [
                (alice, "user-bob", "room 'user-bob' is private"),
                (alice, "admin", "room 'admin' needs one of the roles: admin"),
                (alice, "staff-ops", "room 'staff-ops' needs one of the roles: admin, staff"),
                (sam, "admin", "room 'admin' needs one of the roles: admin"),
                (sam, "user-alice", "room 'user-alice' is private"),
            ]
            for (probe, room, reason) in cases {
                let answer = try await probe.joinAnswered(room)
                #expect(answer["event_type"]?.stringValue == "error", "\(room): \(answer)")
                #expect(answer.errorCode == "join_refused", "\(room)")
                #expect(answer.errorMessage == reason, "\(room)")
            }
            #expect(try await sam.joinAnswered("staff-ops").isAck)
            for room in ["admin", "staff-ops", "user-alice", "user-bob"] {
                #expect(try await root.joinAnswered(room).isAck, "admins may join \(room)")
            }

            // A refused join leaves no membership behind, and the room sees no one arrive.
            #expect(try await alice.sayAnswered("sneaking in", in: "user-bob").errorCode == "not_in_room")
            #expect(live.hub.room("user-bob")?.members.keys.contains("alice") == false)
            let presence = try await live.http.request("GET", "/api/rooms/admin/presence")
            #expect(presence.body?["users"]?.arrayValue?.compactMap { $0["user_id"]?.stringValue } == ["root"])

            // Rooms asked for in the auth frame go through on_join as well.
            let (early, _) = try await live.connectWelcomed(["token": "t-bob", "rooms": ["user-bob", "admin"]])
            let refusal = try await early.next(type: "error")
            #expect(refusal.errorCode == "join_refused")
            #expect(refusal["room_id"]?.stringValue == "admin")
            #expect(live.hub.room("user-bob")?.members.keys.contains("bob") == true)
            await alice.close()
            await sam.close()
            await root.close()
            await early.close()
        }
    }

    @Test func onJoinOverSSEAndLongPollRefusesWith403() async throws {
        try await withLiveHub(plugins: .shipped(["auth", "private_rooms"], settings: ["auth": authSettings(anonymous: false)])) { live in
            let refusedStreams: [(String, String)] = [
                ("/events?rooms=user-bob&token=t-alice", "room 'user-bob' is private"),
                ("/events?rooms=lobby,admin&token=t-alice", "room 'admin' needs one of the roles: admin"),
                ("/events?rooms=admin&token=t-sam", "room 'admin' needs one of the roles: admin"),
            ]
            for (path, reason) in refusedStreams {
                let reply = try await live.refusedRequest(path, headers: [("Accept", "text/event-stream")])
                #expect(reply.status == 403, "\(path): \(reply.text)")
                #expect(reply.errorCode == "join_refused", "\(path)")
                #expect(reply.errorMessage == reason, "\(path)")
            }
            try await live.eventually("refused streams to be gone") { live.hub.connections.isEmpty }
            #expect(live.hub.room("lobby")?.members.isEmpty ?? true, "the stream refused for admin left lobby too")

            let own = try await live.stream("/events?rooms=user-alice&token=t-alice")
            #expect(own.stream.status == 200)
            _ = try await own.next(event: "notification")
            try await live.publish("user-alice", ["message": "just for alice"])
            #expect(try await own.next(event: "message").json?.chatText == "just for alice")
            let rootStream = try await live.stream("/events?rooms=user-alice,admin&token=t-root")
            #expect(rootStream.stream.status == 200)
            _ = try await rootStream.next(event: "notification")

            for clientID in ["session-1", ""] {
                let query = clientID.isEmpty ? "" : "client_id=\(clientID)&"
                let refused = try await live.http.request(
                    "GET", "/poll?\(query)rooms=user-bob&timeout=0", headers: [("Authorization", "Bearer t-alice")])
                #expect(refused.status == 403, "poll \(query): \(refused.text)")
                #expect(refused.errorCode == "join_refused")
                #expect(refused.errorMessage == "room 'user-bob' is private")
            }
            let allowed = try await live.http.request(
                "GET", "/poll?client_id=session-1&rooms=user-alice&timeout=0", headers: [("Authorization", "Bearer t-alice")])
            #expect(allowed.status == 200, "\(allowed.text)")
            #expect(allowed.body?["messages"]?.arrayValue?.first?["content"]?.stringValue == "just for alice")
            let rootPoll = try await live.http.request(
                "GET", "/poll?client_id=r&rooms=user-bob&timeout=0", headers: [("Authorization", "Bearer t-root")])
            #expect(rootPoll.status == 200)
            own.close()
            rootStream.close()
        }
    }

    // MARK: on_publish

    @Test func onPublishModifiesTheEventThatIsStoredAndDelivered() async throws {
        let settings: [String: JSONObject] = ["moderation": ["banned_words": ["darn", "heck"], "mask_with": "***"]]
        try await withLiveHub(plugins: .shipped(["moderation"], settings: settings)) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            let stream = try await live.stream("/events?user_id=sue")
            _ = try await stream.next(event: "notification")

            let ack = try await alice.sayAnswered("Well DARN it, heck")
            #expect(ack.isAck)
            let received = try await bob.next(type: "message")
            #expect(received.chatText == "Well *** it, ***")
            #expect(received["event_id"] == ack["data"]?["event_id"])
            #expect(try await stream.next(event: "message").json?.chatText == "Well *** it, ***")

            let sent = try await live.http.request("POST", "/message", json: ["content": "oh heck", "sender": "carl"])
            #expect(sent.status == 200)
            #expect(try await bob.next(type: "message")["data"]?["content"]?.stringValue == "oh ***")
            let poll = try await live.http.request("GET", "/poll?client_id=reader&timeout=0")
            #expect(poll.body?["messages"]?.arrayValue?.compactMap { $0["content"]?.stringValue } == ["Well *** it, ***", "oh ***"])

            let history = try await live.http.request("GET", "/api/rooms/general/history")
            let texts = history.body?["events"]?.arrayValue?.map { $0["data"]?["message"]?.stringValue ?? $0["data"]?["content"]?.stringValue ?? "" }
            #expect(texts == ["Well *** it, ***", "oh ***"], "the modified event is what is stored")
            stream.close()
            await alice.close()
            await bob.close()
        }
    }

    @Test func settingsChangedThroughTheAPITakeEffectWithoutDroppingAConnection() async throws {
        let settings: [String: JSONObject] = ["moderation": ["banned_words": ["darn"]]]
        try await withLiveHub(plugins: .shipped(["moderation"], settings: settings)) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            #expect(try await alice.sayAnswered("oh heck").isAck)
            #expect(try await alice.sayAnswered("darn").errorMessage == "message contains a banned word")

            let changed = try await live.http.request("PUT", "/api/plugins/moderation/settings", json: ["banned_words": ["heck"]])
            #expect(changed.status == 200)
            #expect(changed.body?["settings"]?["banned_words"] == ["heck"])
            #expect(changed.body?["settings"]?["max_length"] == 4000, "the other keys keep their defaults")
            #expect(try await alice.sayAnswered("heck again").errorMessage == "message contains a banned word", "the same connection, the new list")
            #expect(try await alice.sayAnswered("darn it").isAck)

            let refused = try await live.http.request("PUT", "/api/plugins/moderation/settings", json: ["rate_limit": "fast"])
            #expect(refused.status == 422)
            #expect(refused.errorCode == "invalid_field")
            #expect(refused.errorMessage?.contains("'rate_limit'") == true)
            let unknown = try await live.http.request("PUT", "/api/plugins/moderation/settings", json: ["banned_wordz": ["x"]])
            #expect(unknown.status == 422)
            #expect(try await live.http.request("PUT", "/api/plugins/nosuch/settings", json: ["x": 1]).status == 404)
            let listing = try await live.http.request("GET", "/api/plugins")
            let moderation = listing.body?["plugins"]?.arrayValue?.first { $0["name"] == "moderation" }
            #expect(moderation?["config"]?["banned_words"] == ["heck"], "a refused change keeps the settings in force")

            var seen: [String] = []
            for _ in 0..<2 { seen.append(try await bob.next(type: "message").chatText ?? "") }
            #expect(seen == ["oh heck", "darn it"])
            await alice.close()
            await bob.close()
        }
    }

    @Test func aShadowVersionIsComparedNotAppliedThenPromoted() async throws {
        let settings: [String: JSONObject] = ["moderation": ["banned_words": ["spam"], "rate_limit": 4, "rate_window": 60]]
        try await withLiveHub(plugins: .shipped(["moderation"], settings: settings)) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            // The candidate also bans "scam" (a changed word list in its code).
            let candidate = LivePlugins.shipped("moderation").replacingOccurrences(
                of: "banned_lookup[part] = true end", with: "banned_lookup[part] = true end banned_lookup.scam = true")
            #expect(candidate != LivePlugins.shipped("moderation"))
            let started = try await live.http.request("POST", "/api/plugins/moderation/shadow", rawBody: candidate)
            #expect(started.status == 201, "\(started.text)")
            #expect(try await live.http.request("POST", "/api/plugins/moderation/shadow", rawBody: "return {").status == 422)
            #expect(try await live.http.request("POST", "/api/plugins/nosuch/shadow", rawBody: "return {}").status == 404)
            #expect(try await live.http.request("GET", "/api/plugins/moderation/shadow").status == 200, "a refused candidate keeps the shadow")

            for text in ["hello", "what a scam", "third", "fourth", "fifth"] { _ = try await alice.sayAnswered(text) }
            var seen: [String] = []
            for _ in 0..<4 { seen.append(try await bob.next(type: "message").chatText ?? "") }
            #expect(seen == ["hello", "what a scam", "third", "fourth"], "the live version decides; the shadow's store writes are not made")
            #expect(try await bob.collect(type: "message", for: .milliseconds(200)).isEmpty, "the fifth is over the live rate limit")

            let report = try await live.http.request("GET", "/api/plugins/moderation/shadow")
            #expect(report.body?["calls"]?["on_publish"] == 5)
            #expect(report.body?["disagreements"]?["on_publish"] == 1, "\(report.text)")
            let sample = report.body?["samples"]?.arrayValue?.first
            #expect(sample?["live"] == "no opinion")
            #expect(sample?["shadow"] == "rejected (rejected): message contains a banned word")
            #expect(sample?["user_id"] == "alice")

            let promoted = try await live.http.request("POST", "/api/plugins/moderation/shadow/promote")
            #expect(promoted.status == 200, "\(promoted.text)")
            #expect(promoted.body?["reloaded"] == ["moderation"])
            #expect(try await live.http.request("GET", "/api/plugins/moderation/shadow").status == 404, "promoting ends the shadow")
            let carol = try await live.connect("carol")
            #expect(try await carol.sayAnswered("another scam").errorMessage == "message contains a banned word", "now live")
            #expect(try await live.http.request("DELETE", "/api/plugins/moderation/shadow").status == 404)
            for probe in [alice, bob, carol] { await probe.close() }
        }
    }

    @Test func onPublishRejectsWithAReasonOverWebSocketAndHTTP() async throws {
        let settings: [String: JSONObject] = ["moderation": ["banned_words": ["darn"], "max_length": 20, "rate_limit": 3, "rate_window": 60]]
        try await withLiveHub(plugins: .shipped(["moderation"], settings: settings)) { live in
            let alice = try await live.connect("alice")
            let long = try await live.connect("long")
            let rapid = try await live.connect("rapid")
            let bob = try await live.connect("bob")

            let banned = try await alice.sayAnswered("well darn")
            #expect(banned.errorCode == "rejected")
            #expect(banned.errorMessage == "message contains a banned word")
            let tooLong = try await long.sayAnswered(String(repeating: "x", count: 21))
            #expect(tooLong.errorCode == "rejected")
            #expect(tooLong.errorMessage == "message too long: at most 20 characters")
            for i in 1...3 { #expect(try await rapid.sayAnswered("r\(i)").isAck) }
            let limited = try await rapid.sayAnswered("r4")
            #expect(limited.errorCode == "rate_limited")
            #expect(limited.errorMessage == "rate limit: at most 3 messages in 60 seconds")

            // Over POST /message: 403 for a rejection, 429 for the rate limit.
            let httpBanned = try await live.http.request("POST", "/message", json: ["content": "darn it", "sender": "poster"])
            #expect(httpBanned.status == 403)
            #expect(httpBanned.errorCode == "rejected")
            #expect(httpBanned.errorMessage == "message contains a banned word")
            let httpLong = try await live.http.request("POST", "/message", json: ["content": .string(String(repeating: "y", count: 30)), "sender": "poster2"])
            #expect(httpLong.status == 403)
            #expect(httpLong.errorMessage == "message too long: at most 20 characters")
            for i in 1...3 {
                #expect(try await live.http.request("POST", "/message", json: ["content": .string("f\(i)"), "sender": "flood"]).status == 200)
            }
            let httpLimited = try await live.http.request("POST", "/message", json: ["content": "f4", "sender": "flood"])
            #expect(httpLimited.status == 429)
            #expect(httpLimited.errorCode == "rate_limited")

            // Only what passed reached anyone, and only that is stored.
            var seen: [String] = []
            for _ in 0..<6 {
                let message = try await bob.next(type: "message")
                seen.append(message.chatText ?? message["data"]?["content"]?.stringValue ?? "")
            }
            #expect(seen == ["r1", "r2", "r3", "f1", "f2", "f3"])
            #expect(try await bob.collect(type: "message", for: .milliseconds(200)).isEmpty)
            let history = try await live.http.request("GET", "/api/rooms/general/history")
            #expect(history.body?["events"]?.arrayValue?.count == 6)
            for probe in [alice, long, rapid, bob] { await probe.close() }
        }
    }

    @Test func onPublishReturningFalseWithoutAReasonDropsSilently() async throws {
        try await withLiveHub(plugins: LivePlugins([("dropper.lua", dropperPlugin)])) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            let stream = try await live.stream("/events?user_id=sue")
            _ = try await stream.next(event: "notification")

            let dropped = try await alice.sayAnswered("drop me")
            #expect(dropped.isAck, "the sender is not told: \(dropped)")
            #expect(dropped["data"]?["event_id"] == nil, "nothing was stored")
            let sent = try await live.http.request("POST", "/message", json: ["content": "drop me", "sender": "carl"])
            #expect(sent.status == 200, "\(sent.text)")
            #expect(sent.errorCode == nil)
            #expect(try await alice.sayAnswered("keep me").isAck)

            #expect(try await bob.next(type: "message").chatText == "keep me", "the dropped events never arrived first")
            #expect(try await stream.next(event: "message").json?.chatText == "keep me")
            #expect(try await bob.collect(type: "message", for: .milliseconds(200)).isEmpty)
            #expect(try await alice.collect(type: "error", for: .milliseconds(10)).isEmpty)
            let history = try await live.http.request("GET", "/api/rooms/general/history")
            #expect(history.body?["events"]?.arrayValue?.compactMap { $0.chatText } == ["keep me"])
            let poll = try await live.http.request("GET", "/poll?client_id=reader&timeout=0")
            #expect(poll.body?["messages"]?.arrayValue?.compactMap { $0["content"]?.stringValue } == ["keep me"])
            stream.close()
            await alice.close()
            await bob.close()
        }
    }

    // MARK: on_deliver

    @Test func onDeliverRedactsPerRecipientLiveOverEveryTransport() async throws {
        try await withLiveHub(plugins: .shipped(["auth", "private_rooms"], settings: ["auth": authSettings(anonymous: true)])) { live in
            let (root, _) = try await live.connectWelcomed(["token": "t-root"])
            let (alice, _) = try await live.connectWelcomed(["token": "t-alice"])
            let (bob, _) = try await live.connectWelcomed(["user_id": "bob"])
            let rootStream = try await live.stream("/events?token=t-root")
            let aliceStream = try await live.stream("/events?token=t-alice")
            _ = try await rootStream.next(event: "notification")
            _ = try await aliceStream.next(event: "notification")

            let id = try await live.publish("general", ["message": "contact", "email": "x@example.com", "ip": "10.0.0.1"])

            let rootSees = try await root.next(type: "message")
            #expect(rootSees["data"]?["email"]?.stringValue == "x@example.com")
            #expect(rootSees["data"]?["ip"]?.stringValue == "10.0.0.1")
            #expect(rootSees["data"]?["redacted"] == nil)
            for (name, probe) in [("alice", alice), ("bob", bob)] {
                let seen = try await probe.next(type: "message")
                #expect(seen["data"]?["email"] == nil, "\(name) must not see the email")
                #expect(seen["data"]?["ip"] == nil)
                #expect(seen.chatText == "contact")
                #expect(seen["data"]?["redacted"] == ["email", "ip"])
                #expect(seen["event_id"]?.stringValue == id, "the redacted copy keeps the event's id")
                #expect(seen["user_id"]?.stringValue == "api")
            }
            let rootSSE = try await rootStream.next(event: "message")
            #expect(rootSSE.json?["data"]?["email"]?.stringValue == "x@example.com")
            let aliceSSE = try await aliceStream.next(event: "message")
            #expect(aliceSSE.json?["data"]?["email"] == nil)
            #expect(aliceSSE.id == id)

            let alicePoll = try await live.http.request("GET", "/poll?client_id=a&timeout=0", headers: [("Authorization", "Bearer t-alice")])
            let aliceMessage = try #require(alicePoll.body?["messages"]?.arrayValue?.first)
            #expect(aliceMessage["data"]?["email"] == nil, "\(alicePoll.text)")
            #expect(aliceMessage["message_id"]?.stringValue == id)
            let rootPoll = try await live.http.request("GET", "/poll?client_id=r&timeout=0", headers: [("Authorization", "Bearer t-root")])
            #expect(rootPoll.body?["messages"]?.arrayValue?.first?["data"]?["email"]?.stringValue == "x@example.com")

            // A client's own publish is redacted for the others too.
            try await root.send(["event_type": "message", "room_id": "general", "data": ["message": "mail me", "email": "root@example.com"]])
            let fromRoot = try await alice.next(type: "message") { $0.chatText == "mail me" }
            #expect(fromRoot["data"]?["email"] == nil)
            #expect(try await bob.next(type: "message") { $0.chatText == "mail me" }["data"]?["email"] == nil)

            rootStream.close()
            aliceStream.close()
            for probe in [root, alice, bob] { await probe.close() }
        }
    }

    @Test func onDeliverRedactsHistoryReplayedOnJoinAndResume() async throws {
        try await withLiveHub(plugins: .shipped(["auth", "private_rooms"], settings: ["auth": authSettings(anonymous: true)])) { live in
            let first = try await live.publish("general", ["message": "one", "email": "one@example.com"])
            try await live.publish("general", ["message": "two", "email": "two@example.com"])
            try await live.publish("news", ["message": "scoop", "email": "editor@example.com"])

            // Replay on the automatic join of the welcome.
            let (alice, _) = try await live.connectWelcomed(["token": "t-alice"])
            let (root, _) = try await live.connectWelcomed(["token": "t-root"])
            for _ in 0..<2 {
                #expect(try await alice.next(type: "message")["data"]?["email"] == nil)
                #expect(try await root.next(type: "message")["data"]?["email"]?.stringValue?.hasSuffix("@example.com") == true)
            }
            // Replay on an explicit join.
            try await alice.join("news")
            try await root.join("news")
            let aliceScoop = try await alice.next(type: "message") { $0["room_id"]?.stringValue == "news" }
            #expect(aliceScoop.chatText == "scoop")
            #expect(aliceScoop["data"]?["email"] == nil)
            #expect(aliceScoop["data"]?["redacted"] == ["email", "ip"])
            #expect(try await root.next(type: "message") { $0["room_id"]?.stringValue == "news" }["data"]?["email"]?.stringValue == "editor@example.com")

            // Resuming over SSE and over a WebSocket `since` replays through the filter as well.
            let resumed = try await live.stream("/events?token=t-alice", lastEventID: first)
            _ = try await resumed.next(event: "notification")
            let replayed = try await resumed.next(event: "message")
            #expect(replayed.json?.chatText == "two")
            #expect(replayed.json?["data"]?["email"] == nil)
            let (since, _) = try await live.connectWelcomed(["token": "t-alice", "since": ["general": .string(first)]])
            let sinceReplay = try await since.next(type: "message")
            #expect(sinceReplay.chatText == "two")
            #expect(sinceReplay["data"]?["email"] == nil)
            resumed.close()
            for probe in [alice, root, since] { await probe.close() }
        }
    }

    // MARK: Custom event types

    @Test func customTypeIsValidatedHandledAndDeliveredWithItsCount() async throws {
        try await withLiveHub(plugins: .shipped(["reactions"])) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            let stream = try await live.stream("/events?user_id=sue")
            _ = try await stream.next(event: "notification")

            let posted = try await alice.sayAnswered("react to me")
            let target = try #require(posted["data"]?["event_id"])
            _ = try await bob.next(type: "message")

            let reaction: JSONObject = ["event_type": "reaction", "room_id": "general", "data": ["target": target, "emoji": "👍"]]
            let ack = try await bob.request(reaction)
            #expect(ack.isAck, "\(ack)")
            let first = try await alice.next(type: "reaction")
            #expect(first["user_id"]?.stringValue == "bob")
            #expect(first["data"]?["target"] == target)
            #expect(first["data"]?["emoji"]?.stringValue == "👍")
            #expect(first["data"]?["count"]?.intValue == 1)
            #expect(first["event_id"] == ack["data"]?["event_id"], "reactions are stored")
            #expect(try await stream.next(event: "reaction").json?["data"]?["count"]?.intValue == 1)

            #expect(try await alice.request(reaction).isAck)
            #expect(try await bob.next(type: "reaction")["data"]?["count"]?.intValue == 2)
            let second = try await stream.next(event: "reaction")
            #expect(second.json?["data"]?["count"]?.intValue == 2)
            #expect(second.json?["user_id"]?.stringValue == "alice")

            let invalid: [(JSONValue, String)] = [
                (["target": "not-an-id", "emoji": "👍"], "target must be the event_id of a message"),
                (["target": target, "emoji": ""], "emoji is required"),
                (["target": target, "emoji": .string(String(repeating: "x", count: 17))], "emoji is too long"),
                ("text", "data must be an object"),
            ]
            for (data, problem) in invalid {
                let error = try await alice.request(["event_type": "reaction", "room_id": "general", "data": data])
                #expect(error.errorCode == "invalid_field", "\(data): \(error)")
                #expect(error.errorMessage?.contains(problem) == true, "\(data): \(error)")
            }
            // Server-side publishers are held to the same validation.
            let api = try await live.http.request(
                "POST", "/api/publish", json: ["room": "general", "event_type": "reaction", "data": ["target": "x", "emoji": "👍"]])
            #expect(api.status == 400)
            #expect(api.errorMessage?.contains("target must be the event_id of a message") == true)

            let unknown = try await alice.request(["event_type": "poll", "room_id": "general", "data": ["question": "?"]])
            #expect(unknown.errorCode == "unknown_event_type")

            #expect(try await bob.collect(type: "reaction", for: .milliseconds(200)).isEmpty, "invalid reactions reach no one")
            let history = try await live.http.request("GET", "/api/rooms/general/history")
            #expect(history.body?["events"]?.arrayValue?.compactMap { $0["event_type"]?.stringValue } == ["message", "reaction", "reaction"])
            stream.close()
            await alice.close()
            await bob.close()
        }
    }

    // MARK: on_leave and on_disconnect

    @Test func onLeaveAndOnDisconnectRunOnLeaveCloseKickAndStreamEnd() async throws {
        try await withLiveHub(plugins: LivePlugins([("audit.lua", auditPlugin)])) { live in
            let audit = try await live.stream("/events?rooms=audit&user_id=auditor")
            _ = try await audit.next(event: "notification")

            // An explicit leave.
            let alice = try await live.connect("alice")
            try await alice.join("side")
            #expect(try await alice.request(["event_type": "user_left", "data": ["room_id": "side"]]).isAck)
            let left = try await seen(audit, "on_leave", user: "alice")
            #expect(left["room"]?.stringValue == "side")
            #expect(left["reason"]?.stringValue == "left")

            // The client closes.
            await alice.close()
            let closedLeave = try await seen(audit, "on_leave", user: "alice")
            #expect(closedLeave["room"]?.stringValue == "general")
            #expect(closedLeave["reason"]?.stringValue == "client_closed")
            let closed = try await seen(audit, "on_disconnect", user: "alice")
            #expect(closed["reason"]?.stringValue == "client_closed")
            #expect(closed["transport"]?.stringValue == "websocket")

            // A kick through the server API.
            let bob = try await live.connect("bob")
            let kick = try await live.http.request("POST", "/api/users/bob/disconnect", json: ["reason": "bye"])
            #expect(kick.body?["disconnected"]?.intValue == 1)
            try await bob.inbox.waitUntilFinished()
            #expect(bob.session.closeCode?.code == 4004)
            #expect(try await seen(audit, "on_leave", user: "bob")["reason"]?.stringValue == "kicked")
            #expect(try await seen(audit, "on_disconnect", user: "bob")["reason"]?.stringValue == "kicked")

            // An SSE stream that ends.
            let carol = try await live.stream("/events?user_id=carol")
            _ = try await carol.next(event: "notification")
            carol.close()
            let carolGone = try await seen(audit, "on_disconnect", user: "carol")
            #expect(carolGone["transport"]?.stringValue == "sse")
            #expect(carolGone["reason"]?.stringValue == "client_closed")
            #expect(try await seen(audit, "on_leave", user: "carol")["room"]?.stringValue == "general")

            // Each call was counted once in the plugin's store (n runs 1, 2, 3, ...).
            let history = try await live.http.request("GET", "/api/rooms/audit/history")
            let counts = history.body?["events"]?.arrayValue?.compactMap { $0["data"]?["n"]?.intValue } ?? []
            #expect(counts.sorted() == Array(1...7), "one count per call: \(counts)")
            audit.close()
        }
    }

    @Test func onLeaveAndOnDisconnectRunOnHeartbeatTimeoutAndPollSessionExpiry() async throws {
        try await withLiveHub(plugins: LivePlugins([("audit.lua", auditPlugin)]), {
            $0.hub.heartbeatTimeout = .seconds(1)
            $0.hub.pollSessionTimeout = .seconds(1)
        }) { live in
            let audit = try await live.stream("/events?rooms=audit&user_id=auditor")
            _ = try await audit.next(event: "notification")
            let quiet = try await live.connect("quiet")
            let poll = try await live.http.request("GET", "/poll?client_id=tab&user_id=polly&timeout=0")
            #expect(poll.status == 200)

            let timedOut = try await seen(audit, "on_disconnect", user: "quiet", timeout: .seconds(8))
            #expect(timedOut["reason"]?.stringValue == "heartbeat_timeout")
            #expect(try await seen(audit, "on_leave", user: "quiet")["reason"]?.stringValue == "heartbeat_timeout")
            try await quiet.inbox.waitUntilFinished()
            #expect(quiet.session.closeCode?.code == 4009)

            let expired = try await seen(audit, "on_disconnect", user: "polly", timeout: .seconds(8))
            #expect(expired["reason"]?.stringValue == "session_expired")
            #expect(expired["transport"]?.stringValue == "longpoll")
            #expect(try await seen(audit, "on_leave", user: "polly")["room"]?.stringValue == "general")
            audit.close()
        }
    }

    @Test func onLeaveAndOnDisconnectRunOnShutdown() async throws {
        try await withLiveHub(plugins: LivePlugins([("audit.lua", auditPlugin)])) { live in
            let alice = try await live.connect("alice")
            let stream = try await live.stream("/events?user_id=sue")
            _ = try await stream.next(event: "notification")
            let audit = try #require(live.pluginHost?.plugins.first { $0.name == "audit" })
            await live.serviceGroup.triggerGracefulShutdown()
            try await alice.inbox.waitUntilFinished()
            #expect(alice.session.closeCode?.code == 1001)
            try await live.eventually("on_disconnect for both clients") {
                (audit.statistics.snapshot[.onDisconnect]?.calls ?? 0) == 2 && (audit.statistics.snapshot[.onLeave]?.calls ?? 0) == 2
            }
            #expect((audit.statistics.snapshot[.onDisconnect]?.errors ?? 0) == 0)
        }
    }

    // MARK: Moderation events

    @Test func moderateEventMutesRefusesNonModeratorsAndBanKicksWith4004() async throws {
        let settings: [String: JSONObject] = ["auth": authSettings(anonymous: false)]
        try await withLiveHub(plugins: .shipped(["auth", "moderation"], settings: settings)) { live in
            let (mod, _) = try await live.connectWelcomed(["token": "t-mod"])
            let (alice, _) = try await live.connectWelcomed(["token": "t-alice"])
            let (bob, _) = try await live.connectWelcomed(["token": "t-bob"])
            let (carol, _) = try await live.connectWelcomed(["token": "t-carol"])
            func moderate(_ data: JSONValue) -> JSONObject { ["event_type": "moderate", "room_id": "general", "data": data] }

            let notModerator = try await alice.request(moderate(["action": "mute", "user_id": "bob"]))
            #expect(notModerator.errorCode == "not_allowed")
            #expect(notModerator.errorMessage == "only moderators may moderate")
            let badAction = try await mod.request(moderate(["action": "explode", "user_id": "bob"]))
            #expect(badAction.errorCode == "invalid_field")
            #expect(badAction.errorMessage?.contains("action must be mute, unmute, ban or unban") == true)

            #expect(try await mod.request(moderate(["action": "mute", "user_id": "bob", "seconds": 60, "reason": "spam"])).isAck)
            let announced = try await alice.next(type: "moderate")
            #expect(announced["user_id"]?.stringValue == "mod")
            #expect(announced["data"]?["action"]?.stringValue == "mute")
            let muted = try await bob.sayAnswered("can anyone hear me")
            #expect(muted.errorCode == "not_allowed")
            #expect(muted.errorMessage == "you are muted: spam")
            let typing = try await bob.request(["event_type": "typing", "room_id": "general", "data": ["is_typing": true]])
            #expect(typing.errorCode == "not_allowed", "muted users cannot type either")

            #expect(try await mod.request(moderate(["action": "unmute", "user_id": "bob"])).isAck)
            #expect(try await bob.sayAnswered("back again").isAck)
            #expect(try await alice.next(type: "message").chatText == "back again", "the muted message never arrived")

            #expect(try await mod.request(moderate(["action": "ban", "user_id": "carol", "reason": "trolling"])).isAck)
            try await carol.inbox.waitUntilFinished()
            #expect(carol.session.closeCode?.code == 4004)
            #expect(carol.session.closeCode?.reason == "banned: trolling")
            _ = try await alice.next(type: "user_left") { $0["user_id"]?.stringValue == "carol" }

            // Back again, carol is let in but may not join, over either transport.
            let (returning, _) = try await live.connectWelcomed(["token": "t-carol"])
            let refused = try await returning.next(type: "error")
            #expect(refused.errorCode == "join_refused")
            #expect(refused.errorMessage == "you are banned")
            #expect(try await returning.sayAnswered("let me in").errorCode == "not_in_room")
            let stream = try await live.refusedRequest("/events?token=t-carol", headers: [("Accept", "text/event-stream")])
            #expect(stream.status == 403)
            #expect(stream.errorMessage == "you are banned")

            let history = try await live.http.request("GET", "/api/rooms/general/history")
            #expect(history.body?["events"]?.arrayValue?.contains { $0["event_type"]?.stringValue == "moderate" } == false, "moderate is not stored")
            for probe in [mod, alice, bob, returning] { await probe.close() }
        }
    }

    // MARK: Timers

    @Test func dashboardTimerPublishesStatsToSSESubscribers() async throws {
        try await withLiveHub(plugins: .shipped(["dashboard"], settings: ["dashboard": ["interval": 0.2]])) { live in
            let stream = try await live.stream("/events?rooms=dashboard&user_id=viewer")
            _ = try await stream.next(event: "notification")
            var ticks: [JSONValue] = []
            for _ in 0..<3 {
                let tick = try await stream.next(event: "stats", timeout: .seconds(5))
                ticks.append(try #require(tick.json))
            }
            for tick in ticks {
                #expect(tick["room_id"]?.stringValue == "dashboard")
                #expect(tick["user_id"]?.stringValue == "system")
                #expect(tick["data"]?["at"]?.doubleValue != nil)
                #expect(tick["data"]?["rooms"]?.intValue != nil)
            }
            #expect(ticks.last?["data"]?["connections"]?["sse"]?.intValue == 1, "\(ticks)")
            let times = ticks.compactMap { $0["data"]?["at"]?.doubleValue }
            #expect(times == times.sorted() && Set(times).count == 3, "three distinct ticks: \(times)")

            // Clients cannot forge stats.
            let client = try await live.connect("mallory")
            try await client.join("dashboard")
            let forged = try await client.request(["event_type": "stats", "room_id": "dashboard", "data": ["rooms": 0]])
            #expect(forged.errorCode == "not_allowed")
            #expect(forged.errorMessage == "only the hub publishes stats")
            let listing = try await live.pluginListing("dashboard")
            #expect((listing?["stats"]?["timer"]?["calls"]?.intValue ?? 0) >= 3)
            stream.close()
            await client.close()
        }
    }

    /// Plugin timers should stop with the hub. Today they keep firing after a graceful shutdown, and once the
    /// application is released they reach the destroyed `PluginHost` through `PluginContext`'s unowned
    /// reference and abort the process (the harness unloads every plugin after each test to stay alive).
    @Test func pluginTimersStopWhenTheHubShutsDown() async throws {
        let clock = ManualClock()
        try await withLiveHub(plugins: .shipped(["dashboard"], settings: ["dashboard": ["interval": 0.1]]), clock: clock) { live in
            let dashboard = try #require(live.pluginHost?.plugins.first { $0.name == "dashboard" })
            @Sendable func timerCalls() -> Int { dashboard.statistics.snapshot[.timer]?.calls ?? 0 }
            try await live.advance(clock, by: .milliseconds(100), until: "the timer to fire") { timerCalls() >= 2 }
            await live.serviceGroup.triggerGracefulShutdown()
            try await live.eventually("the hub to shut down") { live.hub.isShuttingDown && live.hub.connections.isEmpty }
            try await live.eventually("the plugin timers to stop") { live.pluginHost?.timerCount(of: "dashboard") == 0 }
            let before = timerCalls()
            for _ in 0..<20 {
                clock.advance(by: .milliseconds(100))  // beats that would have fired
                await Task.yield()
            }
            let after = timerCalls()
            #expect(after == before, "the dashboard timer still fires after shutdown: \(before) → \(after) calls")
        }
    }
}

// MARK: - Fixtures

let jwtSecret = "moonwire-test-secret"

/// Settings of the shipped auth plugin: a JWT secret and static tokens with roles.
func authSettings(anonymous: Bool) -> JSONObject {
    [
        "jwt_secret": .string(jwtSecret),
        "tokens": [
            "t-alice": ["user_id": "alice", "roles": []],
            "t-bob": ["user_id": "bob", "roles": []],
            "t-carol": ["user_id": "carol", "roles": []],
            "t-root": ["user_id": "root", "roles": ["admin"]],
            "t-sam": ["user_id": "sam", "roles": ["staff"]],
            "t-mod": ["user_id": "mod", "roles": ["moderator"]],
        ],
        "allow_anonymous": .bool(anonymous),
    ]
}

/// Drops (no reason: silently) every message whose text is "drop me".
private let dropperPlugin = """
    return {
      name = "dropper",
      on_publish = function(ctx, event)
        local data = event.data
        if type(data) == "table" and (data.message == "drop me" or data.content == "drop me") then
          return false
        end
      end,
    }
    """

/// Records every on_leave / on_disconnect call: counts it in hub.store and publishes a "seen" event to the
/// "audit" room (the auditor's own stream is not recorded).
private let auditPlugin = """
    return {
      name = "audit",
      version = "1",
      on_leave = function(ctx, room, reason)
        if ctx.user_id == "auditor" then return end
        local n = hub.store.incr("calls")
        hub.publish("audit", "seen", { hook = "on_leave", user_id = ctx.user_id, room = room, reason = reason,
                                       transport = ctx.transport, n = n })
      end,
      on_disconnect = function(ctx, reason)
        if ctx.user_id == "auditor" then return end
        local n = hub.store.incr("calls")
        hub.publish("audit", "seen", { hook = "on_disconnect", user_id = ctx.user_id, reason = reason,
                                       transport = ctx.transport, n = n })
      end,
    }
    """

/// The next "seen" event of the audit stream for `hook` and `user`: its data.
private func seen(_ audit: SSEProbe, _ hook: String, user: String, timeout: Duration = .seconds(5)) async throws -> JSONValue {
    let message = try await audit.next(event: "seen", timeout: timeout) {
        $0.json?["data"]?["hook"]?.stringValue == hook && $0.json?["data"]?["user_id"]?.stringValue == user
    }
    return message.json?["data"] ?? .null
}
