import Foundation
import LuaRuntime
import MoonwireCore
import Testing
@testable import MoonwirePlugins

@Suite struct ReloadTests {
    static let counter = """
        local count = 0
        return { name = "counter", version = "VERSION", single_state = true,
          on_load = function(config, saved) if saved ~= hub.null and saved then count = saved.count end end,
          on_unload = function() return { count = count } end,
          on_publish = function(ctx, event) count = count + 1 event.data.count = count event.data.version = "VERSION" return event end }
        """

    @Test func aChangedPluginReplacesTheOldOneAndInheritsItsState() async throws {
        let fixture = PluginFixture(["counter.lua": Self.counter.replacingOccurrences(of: "VERSION", with: "1")])
        #expect(fixture.reload().loaded == ["counter"])
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        for _ in 0..<3 { _ = await fixture.send(alice, .message, data: ["message": "x"]) }
        fixture.write("counter.lua", Self.counter.replacingOccurrences(of: "VERSION", with: "2"))
        let report = fixture.reload()
        #expect(report.reloaded == ["counter"])
        _ = await fixture.send(alice, .message, data: ["message": "x"])
        let events = fixture.drain(bob)
        #expect(events.map { $0.data["count"] } == [1, 2, 3, 4])
        #expect(events.map { $0.data["version"] } == ["1", "1", "1", "2"])
        #expect(fixture.host.plugins.first?.version == "2")
    }

    @Test func aBrokenReloadKeepsTheOldVersionAndReportsFileAndLine() async throws {
        let fixture = PluginFixture(["counter.lua": Self.counter.replacingOccurrences(of: "VERSION", with: "1")])
        fixture.reload()
        fixture.write("counter.lua", "return {\n  name = 'counter',\n  on_publish = function( end\n}\n")
        let report = fixture.reload()
        #expect(!report.succeeded)
        let message = try #require(report.failed.first?.message)
        #expect(message.contains("counter.lua:3:"))
        #expect(fixture.host.lastFailures["counter"]?.message.contains("counter.lua:3:") == true)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        _ = await fixture.send(alice, .message, data: ["message": "x"])
        #expect(fixture.drain(bob).first?.data["version"] == "1")
        // A fixed file loads and clears the error.
        fixture.write("counter.lua", Self.counter.replacingOccurrences(of: "VERSION", with: "3"))
        #expect(fixture.reload().reloaded == ["counter"])
        #expect(fixture.host.lastFailures["counter"] == nil)
    }

    @Test func aFailingOnLoadKeepsTheOldVersionWithItsState() async throws {
        let fixture = PluginFixture(["counter.lua": Self.counter.replacingOccurrences(of: "VERSION", with: "1")])
        fixture.reload()
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        _ = await fixture.send(alice, .message, data: ["message": "x"])
        fixture.write("counter.lua", "return { name = 'counter', version = '2', on_load = function() error('no') end }")
        #expect(!fixture.reload().succeeded)
        _ = await fixture.send(alice, .message, data: ["message": "x"])
        #expect(fixture.drain(bob).map { $0.data["count"] } == [1, 2])
    }

    @Test func aDeletedPluginUnloadsWithItsTypesAndTimers() async throws {
        let clock = ManualClock()
        let fixture = PluginFixture(
            [
                "ticker.lua": """
                    return {
                      on_load = function() hub.every(0.05, function() hub.store.incr("ticks") end) end,
                      types = { ping = { stored = false } } }
                    """
            ], clock: clock)
        fixture.reload()
        let alice = try await fixture.connect("alice")
        #expect(await fixture.send(alice, "ping", data: [:]) == nil)
        try await fixture.advance(clock, by: .milliseconds(50), until: "the timer to tick") { try fixture.stored("ticker", "ticks") >= 2 }
        fixture.remove("ticker.lua")
        #expect(fixture.reload().unloaded == ["ticker"])
        #expect(fixture.host.timers.count(of: "ticker") == 0)
        // Unloaded (a call in progress finished first, under the plugin's lock): nothing ticks any more.
        let ticks = try fixture.stored("ticker", "ticks")
        for _ in 0..<10 {
            clock.advance(by: .milliseconds(50))
            await Task.yield()
        }
        #expect(try fixture.stored("ticker", "ticks") == ticks)
        #expect(await fixture.send(alice, "ping", data: [:])?.code == .unknownEventType)
    }

    @Test func namedTimersKeepTheirBeatAcrossAReload() async throws {
        let clock = ManualClock()
        let source = """
            return { version = "V",
              on_load = function() hub.every(0.1, function() hub.store.incr("V") end, "beat") end }
            """
        let fixture = PluginFixture(["beat.lua": source.replacingOccurrences(of: "V", with: "one")], clock: clock)
        fixture.reload()
        try await fixture.advance(clock, by: .milliseconds(100), until: "version one to beat") { try fixture.stored("beat", "one") >= 3 }
        fixture.write("beat.lua", source.replacingOccurrences(of: "V", with: "two"))
        fixture.reload()
        #expect(fixture.host.timers.count(of: "beat") == 1)
        let before = try fixture.stored("beat", "one")
        try await fixture.advance(clock, by: .milliseconds(100), until: "version two to beat") { try fixture.stored("beat", "two") >= 2 }
        #expect(try fixture.stored("beat", "one") == before)
    }

    @Test func theStoreSurvivesReloads() async throws {
        // on_load runs in each of the plugin's states: the first one counts.
        let fixture = PluginFixture(["keep.lua": "return { name = 'keep', on_load = function() if hub.plugin.state == 1 then hub.store.incr('loads') end end }"])
        fixture.reload()
        fixture.write("keep.lua", "return { name = 'keep', version = '2', on_load = function() if hub.plugin.state == 1 then hub.store.incr('loads') end end }")
        fixture.reload()
        #expect(try fixture.host.store.get("keep", "loads") == 2)
    }

    @Test func configIsValidatedAgainstTheSchema() {
        let plugin = """
            return { name = "cfg",
              config = { limit = { type = "integer", min = 1, max = 10, default = 5 },
                         mode = { type = "string", enum = { "a", "b" } },
                         key = { type = "string", required = true } } }
            """
        func failure(_ settings: JSONObject) -> String? {
            let fixture = PluginFixture(["cfg.lua": plugin], settings: ["cfg": settings])
            return fixture.reload().failed.first?.message
        }
        #expect(failure(["key": "k"]) == nil)
        #expect(failure([:]) == "plugin 'cfg': config key 'key' is required")
        #expect(failure(["key": "k", "limit": 20]) == "plugin 'cfg': config key 'limit' must be at most 10, got 20")
        #expect(failure(["key": "k", "limit": "x"]) == "plugin 'cfg': config key 'limit' must be an integer, got string")
        #expect(failure(["key": "k", "mode": "c"]) == #"plugin 'cfg': config key 'mode' must be one of "a", "b", got "c""#)
        #expect(failure(["key": "k", "limt": 1])?.hasPrefix("plugin 'cfg': config key 'limt' unknown key") == true)
    }

    @Test func malformedPluginTablesAreRefusedWithAReason() {
        let cases: [(String, String)] = [
            ("return 42", "must return the plugin table"),
            ("return { name = 'auth' }", "declares name 'auth', but a plugin is named by its file"),
            ("return { name = 42 }", "'name' must be a string"),
            ("return { name = 'x', on_publsh = function() end }", "unknown hook 'on_publsh'"),
            ("return { name = 'x', on_publish = 5 }", "'on_publish' must be a function"),
            ("return { name = 'x', types = { message = {} } }", "'message' is not a name a plugin may register"),
            ("return { name = 'x', types = { tally = { from = 'server' } } }", "types.tally.from must be \"anyone\" (the default) or \"plugins\""),
            ("error('top level failure')", "top level failure"),
        ]
        for (source, expected) in cases {
            let fixture = PluginFixture(["x.lua": source])
            let message = fixture.reload().failed.first?.message ?? ""
            #expect(message.contains(expected), "\(source) -> \(message)")
        }
        let badFile = PluginFixture(["Bad Name.lua": "return {}"])
        #expect(badFile.reload().failed.first?.message.contains("file (or folder) name must start with a lowercase letter") == true)
    }

    /// A file that declares another plugin's name gets neither its settings (its secrets) nor its place.
    @Test func aPluginCannotTakeAnotherPluginsNameAndSettings() throws {
        let fixture = PluginFixture(
            [
                "aaa.lua": "return { name = 'auth', config = { secret = { type = 'string' } }, on_load = function(config) hub.store.set('seen', config.secret) end }",
                "auth.lua": "return { config = { secret = { type = 'string', secret = true } } }",
            ], settings: ["auth": ["secret": "s3cret"]])
        let report = fixture.reload()
        #expect(report.loaded == ["auth"])
        #expect(report.failed.map(\.plugin) == ["aaa"])
        #expect(fixture.host.plugins.map(\.name) == ["auth"])
        #expect(try fixture.host.store.get("aaa", "seen") == nil)
        #expect(try fixture.host.store.get("auth", "seen") == nil)
    }

    @Test func callsWaitingOnARetiredVersionRunOnTheNewOne() async throws {
        let fixture = PluginFixture(["counter.lua": Self.counter.replacingOccurrences(of: "VERSION", with: "1")])
        fixture.reload()
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        let total = 400
        async let publishing: Void = {
            for i in 0..<total { _ = await fixture.send(alice, .message, data: ["n": .int(Int64(i))]) }
        }()
        for version in 2...6 {
            try await Task.sleep(for: .milliseconds(5))
            fixture.write("counter.lua", Self.counter.replacingOccurrences(of: "VERSION", with: "\(version)"))
            #expect(fixture.reload().succeeded)
        }
        await publishing
        let events = fixture.drain(bob)
        #expect(events.map { $0.data["n"]?.intValue } == (0..<total).map { Int64($0) })
        // The count handed over on every reload: every event counted exactly once.
        #expect(events.map { $0.data["count"]?.intValue } == (1...total).map { Int64($0) })
    }
}

@Suite struct UnknownSettingsTests {
    @Test func settingsForAPluginThatDoesNotExistAreAWarning() {
        let fixture = PluginFixture(["real.lua": "return { name = 'real' }"], settings: ["reel": ["x": 1]])
        let report = fixture.reload()
        #expect(report.loaded == ["real"])
        #expect(report.succeeded)
        #expect(report.warnings.map(\.plugin) == ["reel"])
        #expect(report.warnings.first?.message.contains("settings for plugin 'reel'") == true)
    }

    @Test func deletingAPluginThatHasSettingsUnloadsItAndLaterReloadsSucceed() {
        let fixture = PluginFixture(
            ["limits.lua": "return { name = 'limits', config = { rate = { type = 'integer', default = 1 } } }", "other.lua": "return { name = 'other' }"],
            settings: ["limits": ["rate": 5]])
        #expect(fixture.reload().succeeded)
        #expect(fixture.host.plugins.first { $0.name == "limits" }?.config["rate"] == 5)
        fixture.remove("limits.lua")
        let unloaded = fixture.reload()
        #expect(unloaded.succeeded)
        #expect(unloaded.unloaded == ["limits"])
        #expect(unloaded.warnings.map(\.plugin) == ["limits"])
        fixture.write("other.lua", "return { name = 'other', version = '2' }")
        let later = fixture.reload()
        #expect(later.succeeded, "\(later.failed)")
        #expect(later.reloaded == ["other"])
        fixture.write("limits.lua", "return { name = 'limits', config = { rate = { type = 'integer', default = 1 } } }")
        let back = fixture.reload()
        #expect(back.loaded == ["limits"] && back.warnings.isEmpty)
        #expect(fixture.host.plugins.first { $0.name == "limits" }?.config["rate"] == 5, "its settings apply again")
    }
}
