import Foundation
import LuaRuntime
import MoonwireCore
import Testing
@testable import MoonwirePlugins

@Suite struct HubModuleTests {
    /// Loads a plugin whose on_load stores the result of `expression` under "result".
    func evaluate(_ expression: String, settings: JSONObject = [:]) throws -> JSONValue? {
        let fixture = PluginFixture(
            ["probe.lua": "return { name = 'probe', config = { secret = { type = 'string', default = 's3cret' } }, on_load = function(config) if hub.plugin.state == 1 then hub.store.set('result', (function() \(expression) end)()) end end }"],
            settings: ["probe": settings])
        let report = fixture.reload()
        if let failure = report.failed.first { throw LuaCallError(failure.message) }
        return try fixture.host.store.get("probe", "result")
    }

    @Test func jsonRoundTrip() throws {
        #expect(try evaluate("return hub.json.decode(hub.json.encode({ a = { 1, 2 }, b = 'x' }))") == ["a": [1, 2], "b": "x"])
        #expect(try evaluate("local v, err = hub.json.decode('{bad') return err ~= nil") == true)
        #expect(try evaluate("return hub.json.encode(hub.array({}))") == "[]")
        #expect(try evaluate("return hub.json.encode({ n = hub.null })") == #"{"n":null}"#)
    }

    @Test func hubFunctionsWorkInsideThePluginsOwnCoroutines() throws {
        #expect(try evaluate("return coroutine.wrap(function(x) return hub.base64.encode(x) end)('hello')") == "aGVsbG8=")
        #expect(try evaluate("""
            local co = coroutine.create(function(a, b)
              local got = coroutine.yield(hub.json.encode({ a, b }))
              return hub.base64.encode(got)
            end)
            local _, first = coroutine.resume(co, 1, 2)
            local _, second = coroutine.resume(co, 'hi')
            return first .. ' ' .. second
            """) == "[1,2] aGk=")
    }

    @Test func base64AndHashes() throws {
        #expect(try evaluate("return hub.base64.encode('hello')") == "aGVsbG8=")
        #expect(try evaluate("return hub.base64.decode('aGVsbG8=')") == "hello")
        #expect(try evaluate("return hub.base64.url_encode('??>')") == "Pz8-")
        #expect(try evaluate("return hub.crypto.sha256('abc')") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // RFC 4231 test case 2.
        #expect(try evaluate("return hub.crypto.hmac_sha256('Jefe', 'what do ya want for nothing?')")
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func jwtVerification() throws {
        let now = Timestamp.now().seconds
        let valid = JWT.signHS256(["sub": "alice", "roles": ["admin"], "exp": .double(now + 60)], secret: "k")
        let expired = JWT.signHS256(["sub": "alice", "exp": .double(now - 120)], secret: "k")
        let wrongKey = JWT.signHS256(["sub": "alice"], secret: "other")
        let none = HubModule.base64URL(Data(#"{"alg":"none"}"#.utf8)) + "." + HubModule.base64URL(Data(#"{"sub":"x"}"#.utf8)) + "."
        #expect(try evaluate("local c = hub.jwt.verify('\(valid)', 'k') return c.sub .. ':' .. c.roles[1]") == "alice:admin")
        #expect(try evaluate("local c, e = hub.jwt.verify('\(expired)', 'k') return e") == "token expired")
        #expect(try evaluate("local c, e = hub.jwt.verify('\(expired)', 'k', 300) return c.sub") == "alice")
        #expect(try evaluate("local c, e = hub.jwt.verify('\(wrongKey)', 'k') return e") == "bad signature")
        #expect(try evaluate("local c, e = hub.jwt.verify('\(none)', 'k') return e") == "unsupported algorithm (HS256 only)")
        #expect(try evaluate("local c, e = hub.jwt.verify('garbage', 'k') return e") == "malformed token")
    }

    @Test func configAndIdentityAreVisible() throws {
        #expect(try evaluate("return hub.config.secret .. '/' .. hub.plugin.name") == "s3cret/probe")
        #expect(try evaluate("return hub.config.secret", settings: ["secret": "other"]) == "other")
    }

    @Test func storeFunctions() throws {
        #expect(try evaluate("hub.store.set('a', { x = 1 }) return hub.store.get('a')") == ["x": 1])
        #expect(try evaluate("hub.store.incr('n') hub.store.incr('n', 4) return hub.store.get('n')") == 5)
        #expect(try evaluate("hub.store.set('a', 1) hub.store.delete('a') return hub.store.get('a') == nil") == true)
        #expect(try evaluate("hub.store.set('b', 1) hub.store.set('a', 1) return hub.store.keys()") == ["a", "b"])
        #expect(try evaluate("hub.store.set('t', 1, 0.001) return hub.store.get('t')") != nil)
    }

    @Test func badArgumentsAreLuaErrorsWithTheFunctionName() {
        #expect(throws: (any Error).self) { try evaluate("hub.publish(42)") }
        do {
            _ = try evaluate("hub.every(0, function() end)")
        } catch {
            #expect("\(error)".contains("hub.every: interval must be between"))
        }
    }

    @Test func publishFromAPluginReachesTheRoomWithoutRunningItsOwnOnPublish() async throws {
        let fixture = PluginFixture([
            "echo.lua": """
                return { name = "echo",
                  on_publish = function(ctx, event)
                    if event.data.message == "ping" then hub.publish(event.room_id, "message", { message = "pong" }) end
                    event.data.seen = true
                    return event
                  end }
                """
        ])
        fixture.reload()
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        _ = await fixture.send(alice, .message, data: ["message": "ping"])
        var events: [Event] = []
        try await fixture.eventually("the plugin's reply") {
            events += fixture.drain(bob)
            return events.count >= 2
        }
        #expect(events.map { $0.data["message"] } == ["ping", "pong"])
        #expect(events[0].data["seen"] == true)
        #expect(events[1].data["seen"] == nil)
        #expect(events[1].userID == "system")
    }

    @Test func sendAndKickReachUsers() async throws {
        let fixture = PluginFixture([
            "direct.lua": """
                return { name = "direct",
                  on_publish = function(ctx, event)
                    if event.data.message == "dm" then hub.send("bob", "notification", { text = "for bob" }) return false end
                    if event.data.message == "kick" then hub.kick("bob", "bye") return false end
                  end }
                """
        ])
        fixture.reload()
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        _ = fixture.drain(alice)
        _ = await fixture.send(alice, .message, data: ["message": "dm"])
        #expect(fixture.drain(bob).map { $0.data["text"] } == ["for bob"])
        #expect(fixture.drain(alice).isEmpty)
        _ = await fixture.send(alice, .message, data: ["message": "kick"])
        try await fixture.eventually("bob to be kicked") { bob.closeReason != nil }
        #expect(bob.closeReason?.code == "kicked")
        #expect(bob.closeReason?.message == "bye")
    }

    @Test func queriesSeeTheHub() async throws {
        let fixture = PluginFixture([
            "ask.lua": """
                return { name = "ask",
                  on_publish = function(ctx, event)
                    local presence = hub.presence("general")
                    local history = hub.history("general", 5)
                    event.data.users = #presence
                    event.data.history = #history
                    event.data.rooms = #hub.rooms()
                    event.data.connections = hub.stats().connections.websocket
                    return event
                  end }
                """
        ])
        fixture.reload()
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        _ = await fixture.send(alice, .message, data: ["message": "1"])
        _ = await fixture.send(alice, .message, data: ["message": "2"])
        let second = try #require(fixture.drain(bob).last)
        #expect(second.data["users"] == 2)
        #expect(second.data["history"] == 1)
        #expect(second.data["rooms"] == 1)
    }
}
