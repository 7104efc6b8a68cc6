import Foundation
import LuaRuntime
import MoonwireCore
import Testing
@testable import MoonwirePlugins

/// `hub.http.request` against a real local HTTP server: answers, refusals, timeouts, size limits and
/// failures come back to the script; a waiting call holds neither a thread nor its Lua state.
@Suite(.timeLimit(.minutes(2))) struct HTTPRequestTests {
    /// A plugin whose `on_publish` runs `body` (with `BASE`, the backend's URL) and returns the event.
    func fixture(_ backend: HTTPBackend, _ body: String, allow: String? = nil, limits: LuaLimits = LuaLimits(callTimeout: .seconds(10)),
                 configure: (inout PluginOptions) -> Void = { _ in }) -> PluginFixture {
        let allowed = allow ?? "\"127.0.0.1:\(backend.port)\""
        let source = """
            local BASE = "\(backend.url(""))"
            return {
              http = { allow = { \(allowed) } },
              on_publish = function(ctx, event)
                \(body)
                return event
              end }
            """
        return PluginFixture(["web.lua": source], limits: limits, configure: configure)
    }

    /// Publishes a message and returns its data as delivered to another member.
    func deliveredData(_ fixture: PluginFixture, _ data: JSONValue = [:]) async throws -> JSONValue? {
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, .message, data: data) == nil)
        return fixture.drain(bob).first { $0.type == .message }?.data
    }

    @Test func aHookAsksABackendAndUsesTheAnswer() async throws {
        let backend = try HTTPBackend()
        let fixture = fixture(backend, """
            local r, err = hub.http.request { url = BASE .. "/hello" }
            event.data.status = r.status
            event.data.body = r.body
            event.data.header = r.headers["x-test"]
            local e = hub.json.decode(hub.http.request { method = "POST", url = BASE .. "/echo", body = "payload", headers = { ["X-Echo"] = "e1" } }.body)
            event.data.echo = e
            """)
        #expect(fixture.reload().succeeded)
        let data = try await deliveredData(fixture)
        #expect(data?["status"] == 200)
        #expect(data?["body"] == "hello")
        #expect(data?["header"] == "yes")
        #expect(data?["echo"] == ["method": "POST", "body": "payload", "header": "e1"])
    }

    @Test func refusalsTimeoutsSizesAndFailuresComeBackAsReasons() async throws {
        let backend = try HTTPBackend()
        let fixture = fixture(
            backend,
            """
            local function try(req) local r, err = hub.http.request(req) return r and r.status or err end
            event.data.other_port = try { url = "http://127.0.0.1:2/" }
            event.data.other_host = try { url = "http://example.com/" }
            event.data.slow = try { url = BASE .. "/slow?ms=3000", timeout = 0.3 }
            event.data.big = try { url = BASE .. "/big?bytes=5000" }
            event.data.small = try { url = BASE .. "/big?bytes=500" }
            event.data.down = try { url = BASE .. "/status/503" }
            event.data.redirect = try { url = BASE .. "/redirect" }
            event.data.closed = try { url = "http://127.0.0.1:1/" }
            """,
            allow: "\"127.0.0.1:\(backend.port)\", \"127.0.0.1:1\"",
            configure: { $0.httpMaxResponseBytes = 1024 })
        #expect(fixture.reload().succeeded)
        let data = try #require(try await deliveredData(fixture))
        #expect(data["other_port"]?.stringValue?.hasPrefix("refused: 127.0.0.1:2 is not in this plugin's http.allow") == true, "\(data)")
        #expect(data["other_host"]?.stringValue?.hasPrefix("refused:") == true)
        #expect(data["slow"]?.stringValue?.hasPrefix("timeout") == true, "\(data)")
        #expect(data["big"]?.stringValue?.hasPrefix("too large") == true, "\(data)")
        #expect(data["small"] == 200)
        #expect(data["down"] == 503)
        #expect(data["redirect"] == 302, "redirects are not followed")
        // Allowed, but nothing listens on port 1.
        #expect(data["closed"]?.stringValue?.hasPrefix("connection failed") == true, "\(data)")
    }

    @Test func aWaitingCallHoldsNeitherItsStateNorAThread() async throws {
        let backend = try HTTPBackend()
        // One state: while the first call waits for the slow answer, the second runs on that same state.
        let source = """
            return {
              single_state = true,
              http = { allow = { "127.0.0.1:\(backend.port)" } },
              on_publish = function(ctx, event)
                if event.data.slow then
                  hub.store.set("waiting", true)
                  local r = hub.http.request { url = "\(backend.url("/slow?ms=1500"))" }
                  event.data.answer = r.body
                  event.data.second_ran_meanwhile = hub.store.get("second") == true
                else
                  hub.store.set("second", hub.store.get("waiting") == true)
                end
                return event
              end }
            """
        let fixture = PluginFixture(["web.lua": source], limits: LuaLimits(callTimeout: .seconds(10)))
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        let slow = Task { await fixture.send(alice, .message, data: ["slow": true]) }
        try await fixture.eventually("the slow call to wait") { try fixture.host.store.get("web", "waiting") == true }
        #expect(await fixture.send(alice, .message, data: ["n": 2]) == nil)
        #expect(try fixture.host.store.get("web", "second") == true, "the second call ran while the first waited")
        #expect(await slow.value == nil)
        var events: [Event] = []
        try await fixture.eventually("both events") {
            events += fixture.drain(bob).filter { $0.type == .message }
            return events.count >= 2
        }
        let slowEvent = try #require(events.first { $0.data["slow"] == true })
        #expect(slowEvent.data["answer"] == "slow")
        #expect(slowEvent.data["second_ran_meanwhile"] == true)
    }

    @Test func hooksThatCannotWaitSayWhy() async throws {
        let backend = try HTTPBackend()
        let source = """
            return {
              http = { allow = { "127.0.0.1:\(backend.port)" } },
              on_load = function(config, saved)
                local r, err = hub.http.request { url = "\(backend.url("/hello"))" }
                hub.store.set("load", err)
              end,
              on_publish = function(ctx, event)
                local r, err = coroutine.wrap(function() return hub.http.request { url = "\(backend.url("/hello"))" } end)()
                hub.store.set("inner", err)
                return nil
              end }
            """
        let fixture = PluginFixture(["web.lua": source], limits: LuaLimits(callTimeout: .seconds(10)))
        #expect(fixture.reload().succeeded)
        _ = try await deliveredData(fixture)
        #expect(try fixture.host.store.get("web", "load")?.stringValue?.hasPrefix("cannot wait here: on_load and on_unload") == true)
        #expect(try fixture.host.store.get("web", "inner")?.stringValue?.hasPrefix("cannot wait here") == true)
    }

    @Test func onLeaveAndValidateMayWaitToo() async throws {
        let backend = try HTTPBackend()
        let source = """
            return {
              http = { allow = { "127.0.0.1:\(backend.port)" } },
              on_leave = function(ctx, room)
                local r, err = hub.http.request { url = "\(backend.url("/hello"))" }
                hub.store.set("left", r and r.status or err)
              end,
              types = { vote = { validate = function(data)
                local r = hub.http.request { url = "\(backend.url("/status/"))" .. tostring(data.code) }
                if r.status ~= 200 then return false, "backend says " .. r.status end
                return true
              end } } }
            """
        let fixture = PluginFixture(["web.lua": source], limits: LuaLimits(callTimeout: .seconds(10)))
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        #expect(await fixture.send(alice, "vote", data: ["code": 200]) == nil)
        #expect(await fixture.send(alice, "vote", data: ["code": 403])?.message.contains("backend says 403") == true)
        await fixture.hub.leave(alice, room: "general")
        try await fixture.eventually("on_leave to ask the backend") { try fixture.host.store.get("web", "left") == 200 }
    }

    @Test func aCallPastItsDeadlineWhileWaitingFailsAsTime() async throws {
        let backend = try HTTPBackend()
        let fixture = fixture(
            backend, """
            hub.http.request { url = BASE .. "/slow?ms=3000", timeout = 30 }
            """, limits: LuaLimits(callTimeout: .milliseconds(300)))
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let error = await fixture.send(alice, .message, data: [:])
        #expect(error?.code == .rejected)
        let failures = try #require(fixture.host.plugins.first).statistics.counters(for: .onPublish).failures
        #expect(failures[.time] == 1, "\(failures)")
    }

    @Test func aReloadWhileACallWaitsLetsTheOldVersionFinishIt() async throws {
        let backend = try HTTPBackend()
        func version(_ v: String) -> String {
            """
            return { version = "\(v)",
              http = { allow = { "127.0.0.1:\(backend.port)" } },
              on_publish = function(ctx, event)
                if event.data.slow then
                  hub.store.set("waiting", true)
                  hub.http.request { url = "\(backend.url("/slow?ms=1000"))" }
                end
                event.data.version = "\(v)"
                return event
              end }
            """
        }
        let fixture = PluginFixture(["web.lua": version("1")], limits: LuaLimits(callTimeout: .seconds(10)))
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        let slow = Task { await fixture.send(alice, .message, data: ["slow": true]) }
        try await fixture.eventually("the call to wait") { try fixture.host.store.get("web", "waiting") == true }
        fixture.write("web.lua", version("2"))
        #expect(fixture.reload().reloaded == ["web"])
        #expect(await fixture.send(alice, .message, data: [:]) == nil)
        #expect(await slow.value == nil)
        var events: [Event] = []
        try await fixture.eventually("both events") {
            events += fixture.drain(bob).filter { $0.type == .message }
            return events.count >= 2
        }
        #expect(events.count == 2, "nothing lost or doubled")
        #expect(events.first { $0.data["slow"] == true }?.data["version"] == "1")
        #expect(events.first { $0.data["slow"] == nil }?.data["version"] == "2")
    }

    @Test func theAllowListIsChecked() {
        #expect(throws: PluginError.self) { try PluginHTTPPolicy.parse(["allow": ["not a host!"]], plugin: "p") }
        #expect(throws: PluginError.self) { try PluginHTTPPolicy.parse(["allow": ["h:70000"]], plugin: "p") }
        #expect(throws: PluginError.self) { try PluginHTTPPolicy.parse(["deny": []], plugin: "p") }
        let policy = try? PluginHTTPPolicy.parse(["allow": ["Auth.Internal", "127.0.0.1:8000", "[::1]:9000"]], plugin: "p")
        #expect(policy?.allows(host: "auth.internal", port: 443) == true)
        #expect(policy?.allows(host: "127.0.0.1", port: 8000) == true)
        #expect(policy?.allows(host: "127.0.0.1", port: 8001) == false)
        #expect(policy?.allows(host: "::1", port: 9000) == true)
        #expect(policy?.allows(host: "evil.example", port: 80) == false)
    }
}
