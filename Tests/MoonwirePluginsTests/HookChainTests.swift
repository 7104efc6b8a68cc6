import LuaRuntime
import MoonwireCore
import Testing
@testable import MoonwirePlugins

@Suite struct HookChainTests {
    @Test func pluginsRunInPriorityOrderAndAVerdictStopsTheChain() async throws {
        let fixture = PluginFixture([
            "a_low.lua": """
                return { priority = 1,
                  on_publish = function(ctx, event) event.data.trail = (event.data.trail or "") .. "low;" return event end }
                """,
            "b_high.lua": """
                return { priority = 10,
                  on_publish = function(ctx, event)
                    if event.data.message == "stop" then return true end
                    event.data.trail = (event.data.trail or "") .. "high;" return event
                  end }
                """,
        ])
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, .message, data: ["message": "hi"]) == nil)
        #expect(fixture.drain(bob).first { $0.type == .message }?.data["trail"] == "high;low;")
        #expect(await fixture.send(alice, .message, data: ["message": "stop"]) == nil)
        #expect(fixture.drain(bob).first { $0.type == .message }?.data["trail"] == nil)
    }

    @Test func publishVerdicts() async throws {
        let fixture = PluginFixture([
            "filter.lua": """
                return { name = "filter",
                  on_publish = function(ctx, event)
                    local text = event.data.message
                    if text == "drop" then return false end
                    if text == "reject" then return false, "not here" end
                    if text == "slow" then return false, "too fast", "rate_limited" end
                    if text == "upper" then event.data.message = string.upper(text) event.user_id = "mallory" return event end
                  end }
                """
        ])
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, .message, data: ["message": "drop"]) == nil)
        #expect(fixture.drain(bob).isEmpty)
        #expect(await fixture.send(alice, .message, data: ["message": "reject"]) == HubError(.rejected, "not here"))
        #expect(await fixture.send(alice, .message, data: ["message": "slow"])?.code == .rateLimited)
        #expect(fixture.drain(bob).isEmpty)
        #expect(await fixture.send(alice, .message, data: ["message": "upper"]) == nil)
        let delivered = try #require(fixture.drain(bob).first)
        #expect(delivered.data["message"] == "UPPER")
        #expect(delivered.userID == "alice")
        let stored = try await fixture.hub.broker.history(room: "general", .latest(10))
        #expect(stored.events.map { $0.data["message"] } == ["UPPER"])
    }

    @Test func failingHooksFailClosedAndAreCounted() async throws {
        let fixture = PluginFixture([
            "broken.lua": """
                return { name = "broken",
                  on_connect = function(ctx) error("database down") end,
                  on_join = function(ctx, room) if room == "bad" then error("oops") end end,
                  on_publish = function(ctx, event) error({ code = 1 }) end }
                """
        ])
        #expect(fixture.reload().succeeded)
        guard case .failure(let denied) = await fixture.hub.authenticate(ConnectRequest(transport: .webSocket, claimedUserID: "alice")) else {
            Issue.record("expected a denial"); return
        }
        #expect(denied.code == .authFailed)
        let alice = try await fixture.connect("alice")
        await #expect(throws: HubError.self) { try await fixture.hub.join(alice, room: "bad") }
        #expect(await fixture.send(alice, .message, data: ["message": "x"])?.code == .rejected)
        let counters = try #require(fixture.host.plugins.first).statistics.snapshot
        #expect(counters[.onConnect]?.errors == 1)
        #expect(counters[.onPublish]?.errors == 1)
    }

    @Test func failingOnPublishCanBeConfiguredToPass() async throws {
        let fixture = PluginFixture(["broken.lua": "return { name = 'broken', on_publish = function() error('x') end }"], passOnPublishError: true)
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        #expect(await fixture.send(alice, .message, data: ["message": "x"]) == nil)
    }

    @Test func onConnectVerdicts() async throws {
        let fixture = PluginFixture([
            "gate.lua": """
                return { name = "gate",
                  on_connect = function(ctx)
                    if ctx.token == "admin-token" then return { user_id = "root", roles = { "admin" }, metadata = { via = ctx.transport } } end
                    if ctx.token == "bad" then return false, "bad token", "auth_failed" end
                    if ctx.user_id == "guest" then return true end
                  end }
                """
        ])
        #expect(fixture.reload().succeeded)
        let hub = fixture.hub
        let admin = try await hub.authenticate(ConnectRequest(transport: .sse, claimedUserID: "whoever", token: "admin-token")).get()
        #expect(admin == Identity(userID: "root", roles: ["admin"], metadata: ["via": "sse"]))
        await #expect(throws: HubError(.authFailed, "bad token")) {
            try await hub.authenticate(ConnectRequest(transport: .webSocket, claimedUserID: "x", token: "bad")).get()
        }
        #expect(try await hub.authenticate(ConnectRequest(transport: .longPoll, claimedUserID: "guest")).get().userID == "guest")
        // No opinion: the seed's rule.
        #expect(try await hub.authenticate(ConnectRequest(transport: .webSocket, claimedUserID: "carol")).get().userID == "carol")
    }

    @Test func onDeliverRedactsPerRecipientAndBuildsTheEventOncePerFanOut() async throws {
        let fixture = PluginFixture([
            "redact.lua": """
                local seen = {}
                return { name = "redact",
                  on_deliver = function(recipient, event)
                    if event.event_type ~= "message" then return nil end
                    seen[tostring(event)] = true
                    local n = 0 for _ in pairs(seen) do n = n + 1 end
                    hub.store.set("tables", n)
                    if recipient.user_id == "muted" then return false end
                    if recipient.roles[1] ~= "admin" and event.data.secret then
                      local copy = hub.copy(event)
                      copy.data.secret = nil
                      return copy
                    end
                  end }
                """
        ])
        #expect(fixture.reload().succeeded)
        let sender = try await fixture.connect("sender")
        let admin = try await fixture.connect("boss", roles: ["admin"])
        let user = try await fixture.connect("user")
        let muted = try await fixture.connect("muted")
        for connection in [sender, admin, user, muted] { _ = fixture.drain(connection) }
        try fixture.host.store.set("redact", "tables", nil)
        #expect(await fixture.send(sender, .message, data: ["message": "m", "secret": "s"]) == nil)
        #expect(fixture.drain(admin).first?.data["secret"] == "s")
        let redacted = try #require(fixture.drain(user).first)
        #expect(redacted.data["secret"] == nil)
        #expect(redacted.data["message"] == "m")
        #expect(redacted.id != nil)
        #expect(fixture.drain(muted).isEmpty)
        // Three recipients, one event table.
        #expect(try fixture.host.store.get("redact", "tables") == 1)
    }

    @Test func onDeliverCannotChangeTheSharedEvent() async throws {
        let fixture = PluginFixture([
            "vandal.lua": """
                return { name = "vandal",
                  on_deliver = function(recipient, event)
                    local ok = pcall(function() event.data.message = "changed" end)
                    hub.store.set("write_failed", not ok)
                  end }
                """
        ])
        #expect(fixture.reload().succeeded)
        let a = try await fixture.connect("a")
        let b = try await fixture.connect("b")
        let c = try await fixture.connect("c")
        for connection in [a, b, c] { _ = fixture.drain(connection) }
        #expect(await fixture.send(a, .message, data: ["message": "original"]) == nil)
        #expect(fixture.drain(b).first?.data["message"] == "original")
        #expect(fixture.drain(c).first?.data["message"] == "original")
        #expect(try fixture.host.store.get("vandal", "write_failed") == true)
    }

    @Test func customTypesAreValidatedStoredAndHandled() async throws {
        let fixture = PluginFixture([
            "votes.lua": """
                return { name = "votes",
                  types = {
                    vote = { stored = true,
                      validate = function(data)
                        if type(data.choice) ~= "string" then return false, "choice must be a string" end
                        return true
                      end,
                      handle = function(ctx, event)
                        event.data.total = hub.store.incr("total", 1)
                        return event
                      end },
                    cursor = { stored = false } } }
                """
        ])
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, "vote", data: ["choice": "yes"]) == nil)
        #expect(await fixture.send(alice, "vote", data: ["choice": "no"]) == nil)
        let votes = fixture.drain(bob).filter { $0.type == "vote" }
        #expect(votes.map { $0.data["total"] } == [1, 2])
        #expect(votes.allSatisfy { $0.id != nil })
        #expect(await fixture.send(alice, "vote", data: ["choice": 3]) == HubError(.invalidField, "invalid data for 'vote': choice must be a string"))
        #expect(await fixture.send(alice, "cursor", data: ["x": 1]) == nil)
        #expect(fixture.drain(bob).first?.id == nil)
        #expect(await fixture.send(alice, "dance", data: [:])?.code == .unknownEventType)
    }

    @Test func typesFromPluginsOnlyAreRefusedToClientsAndPublishedByPlugins() async throws {
        let fixture = PluginFixture([
            "poll.lua": """
                return { name = "poll",
                  types = {
                    poll_vote = { validate = function(data) return type(data.choice) == "string" end,
                      handle = function(ctx, event)
                        local n = hub.store.incr("votes:" .. event.data.choice)
                        hub.publish(event.room_id, "poll_tally", { choice = event.data.choice, votes = n })
                        return event
                      end },
                    poll_tally = { from = "plugins" } } }
                """
        ])
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        let refused = await fixture.send(alice, "poll_tally", data: ["choice": "yes", "votes": 1000])
        #expect(refused == HubError(.notAllowed, "event type 'poll_tally' is sent by plugins only"))
        #expect(await fixture.send(alice, "poll_vote", data: ["choice": "yes"]) == nil)
        var tallies: [Event] = []
        try await fixture.eventually("the plugin's tally") {
            tallies += fixture.drain(bob).filter { $0.type == "poll_tally" }
            return !tallies.isEmpty
        }
        #expect(tallies.map { $0.data["votes"] } == [1])
        #expect(fixture.host.plugins.first?.eventTypes["poll_tally"] == PluginEventType(stored: true, clientsMaySend: false))
        // The server API (a trusted server-side caller) may publish it too.
        let published = try await fixture.hub.publish(
            Event(type: "poll_tally", userID: "system", roomID: "general", data: ["choice": "no", "votes": 0]),
            from: PublisherInfo(connection: nil, transport: .http, userID: "system"), requireKnownType: false)
        #expect(published.id != nil)
    }

    @Test func whatOnStoredPublishesArrivesAfterTheEventItReactsTo() async throws {
        let fixture = PluginFixture([
            "poll.lua": """
                return { name = "poll",
                  types = { poll_vote = {}, poll_tally = { from = "plugins" } },
                  on_stored = function(event)
                    hub.store.incr("stored:" .. event.event_type)
                    if event.event_type ~= "poll_vote" then return end
                    local n = hub.store.incr("votes")
                    hub.publish(event.room_id, "poll_tally", { votes = n, after = event.event_id })
                  end }
                """
        ])
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        for _ in 0..<5 { #expect(await fixture.send(alice, "poll_vote", data: ["choice": "yes"]) == nil) }
        #expect(await fixture.send(alice, .typing, data: ["typing": true]) == nil)
        var events: [Event] = []
        try await fixture.eventually("five votes and five tallies") {
            events += fixture.drain(bob).filter { $0.type == "poll_vote" || $0.type == "poll_tally" }
            return events.count >= 10
        }
        for (index, tally) in events.enumerated() where tally.type == "poll_tally" {
            let vote = try #require(events[..<index].first { $0.id?.description == tally.data["after"]?.stringValue })
            #expect(vote.type == "poll_vote", "each tally comes after the vote it counts")
            #expect(try #require(tally.id) > #require(vote.id))
        }
        #expect(events.filter { $0.type == "poll_tally" }.map { $0.data["votes"] } == [1, 2, 3, 4, 5])
        #expect(try fixture.stored("poll", "stored:poll_vote") == 5)
        #expect(try fixture.stored("poll", "stored:poll_tally") == 5, "the tallies are stored too (and seen by on_stored)")
        #expect(try fixture.stored("poll", "stored:typing") == 0, "not called for ephemeral events")
    }

    @Test func leaveAndDisconnectHooksAlwaysRun() async throws {
        let fixture = PluginFixture([
            "audit.lua": """
                return { name = "audit",
                  on_leave = function(ctx, room, reason) hub.store.incr("leave:" .. ctx.user_id .. ":" .. room .. ":" .. reason) end,
                  on_disconnect = function(ctx, reason) hub.store.incr("gone:" .. ctx.user_id .. ":" .. reason) end }
                """
        ])
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice", rooms: ["general", "news"])
        await fixture.hub.leave(alice, room: "news")
        await fixture.hub.disconnect(alice, reason: .heartbeatTimeout)
        let store = fixture.host.store
        #expect(try store.get("audit", "leave:alice:news:left") == 1)
        #expect(try store.get("audit", "leave:alice:general:heartbeat_timeout") == 1)
        #expect(try store.get("audit", "gone:alice:heartbeat_timeout") == 1)
    }

    @Test func aPluginThatHitsALimitLosesThatCallOnly() async throws {
        let fixture = PluginFixture(
            [
                "spin.lua": """
                    return { name = "spin", priority = 5,
                      on_publish = function(ctx, event) if event.data.message == "spin" then while true do end end end }
                    """,
                "tag.lua": """
                    return { name = "tag", on_publish = function(ctx, event) event.data.tagged = true return event end }
                    """,
            ], limits: LuaLimits(memoryBytes: 8 << 20, instructionsPerCall: 100_000, callTimeout: .seconds(1)))
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, .message, data: ["message": "spin"])?.code == .rejected)
        #expect(await fixture.send(alice, .message, data: ["message": "fine"]) == nil)
        #expect(fixture.drain(bob).first?.data["tagged"] == true)
        let spin = try #require(fixture.host.plugins.first { $0.name == "spin" })
        #expect(spin.statistics.counters(for: .onPublish).limitHits == 1)
    }
}
