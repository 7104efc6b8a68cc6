import Foundation
import LuaRuntime
import MoonwireCore
import Testing
@testable import MoonwirePlugins

/// Each plugin version runs a pool of Lua states built from the same source: calls run in parallel, one
/// per state; `on_load` prepares every state; load-time timers run once; `single_state` gives one state.
@Suite struct StatePoolTests {
    @Test func callsOfOnePluginRunInParallel() async throws {
        // "first" waits (polling the store) until "second" has run: with one state, "second" could not run
        // until "first" returned, and would fail as busy.
        let fixture = PluginFixture(
            [
                "meet.lua": """
                    return { on_publish = function(ctx, event)
                      if event.data.role == "first" then
                        hub.store.set("first_running", true)
                        while not hub.store.get("second_ran") do end
                      elseif event.data.role == "second" then
                        hub.store.set("second_ran", true)
                      end
                      return nil
                    end }
                    """
            ], limits: LuaLimits(instructionsPerCall: 0, callTimeout: .seconds(30)))
        #expect(fixture.reload().succeeded)
        let plugin = try #require(fixture.host.plugins.first)
        #expect(plugin.stateCount == 2)
        let alice = try await fixture.connect("alice")
        let first = Task { await fixture.publishOnOwnThread(["role": "first"]) }
        try await fixture.eventually("the first call to be running") { try fixture.host.store.get("meet", "first_running") == true }
        #expect(await fixture.send(alice, .message, data: ["role": "second"]) == nil)
        guard case .pass = await first.value else {
            Issue.record("the first call did not pass")
            return
        }
        #expect(plugin.statistics.counters(for: .onPublish).failures.isEmpty)
    }

    @Test func aStuckCallLeavesTheOtherStatesServing() async throws {
        let fixture = PluginFixture.withStuckablePlugin(states: 2)
        #expect(fixture.reload().succeeded)
        let original = try #require(fixture.host.plugins.first)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        let stuck = Task { await fixture.publishOnOwnThread(["stuck": true]) }
        try await fixture.eventually("the stuck call to start") { original.busyFor != nil }
        // The other state serves (unless the watchdog already quarantined the version and its rebuild).
        let meanwhile = await fixture.send(alice, .message, data: ["message": "meanwhile"])
        if !original.isQuarantined {
            #expect(meanwhile == nil)
            #expect(fixture.drain(bob).contains { $0.data["served"] == true })
        }
        try await fixture.eventually("the version to be quarantined") {
            fixture.host.checkStuckCalls()
            return original.isQuarantined
        }
        _ = await stuck.value
        try await fixture.eventually("a fresh version") { fixture.host.plugins.first.map { $0 !== original } ?? false }
    }

    @Test func onLoadPreparesEveryStateAndLoadTimeTimersRunOnce() async throws {
        let clock = ManualClock()
        let fixture = PluginFixture(
            [
                "pool.lua": """
                    local prefix
                    hub.every(0.1, function() hub.store.incr("file_ticks") end)
                    return {
                      config = { prefix = { type = "string", default = "p" } },
                      on_load = function(config, saved)
                        prefix = config.prefix .. "-" .. tostring(saved and saved.generation or 0)
                        hub.every(0.1, function() hub.store.incr("load_ticks") end)
                      end,
                      on_unload = function() return { generation = 1 } end,
                      on_publish = function(ctx, event)
                        event.data.prefix = prefix
                        event.data.state = hub.plugin.state
                        event.data.states = hub.plugin.states
                        return event
                      end }
                    """
            ], clock: clock)
        #expect(fixture.reload().succeeded)
        // One timer from the file's top level and one from on_load, started by the first state only.
        #expect(fixture.host.timers.count(of: "pool") == 2)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        for _ in 0..<4 { #expect(await fixture.send(alice, .message, data: [:]) == nil) }
        var events = fixture.drain(bob).filter { $0.type == .message }
        #expect(events.count == 4)
        #expect(events.allSatisfy { $0.data["prefix"] == "p-0" && $0.data["states"] == 2 })
        // Calls spread over the states.
        #expect(Set(events.compactMap { $0.data["state"]?.intValue }) == [1, 2])

        try await fixture.advance(clock, by: .milliseconds(100), until: "the timers to tick") { try fixture.stored("pool", "load_ticks") >= 3 }
        // Each timer ran once per beat: both counters moved together.
        let fileTicks = try fixture.stored("pool", "file_ticks")
        let loadTicks = try fixture.stored("pool", "load_ticks")
        #expect(abs(fileTicks - loadTicks) <= 1, "\(fileTicks) and \(loadTicks)")

        // A new version: every state gets what the first state's on_unload handed over.
        fixture.write("pool.lua", try #require(String(data: FileManager.default.contents(atPath: fixture.directory + "/pool.lua")!, encoding: .utf8)) + "\n")
        #expect(fixture.reload().reloaded == ["pool"])
        #expect(fixture.host.timers.count(of: "pool") == 2)
        for _ in 0..<4 { #expect(await fixture.send(alice, .message, data: [:]) == nil) }
        events = fixture.drain(bob).filter { $0.type == .message }
        #expect(events.count == 4)
        #expect(events.allSatisfy { $0.data["prefix"] == "p-1" }, "\(events.map { $0.data })")
    }

    @Test func loadTimeTimersKeepTheLimitInEveryState() throws {
        let fixture = PluginFixture(
            [
                "many.lua": """
                    return { on_load = function()
                      for i = 1, 3 do hub.every(60, function() end) end
                      local ok, err = pcall(hub.every, 60, function() end)
                      if ok then error("state " .. hub.plugin.state .. " went past the timer limit") end
                    end }
                    """
            ], configure: { $0.maxTimers = 3 })
        #expect(fixture.reload().succeeded)
        #expect(fixture.host.timers.count(of: "many") == 3)
    }

    @Test func aSingleStatePluginSharesItsGlobalsAcrossCalls() async throws {
        let fixture = PluginFixture(
            [
                "count.lua": """
                    local count = 0
                    return { single_state = true, on_publish = function(ctx, event)
                      count = count + 1
                      event.data.count = count
                      event.data.states = hub.plugin.states
                      return event
                    end }
                    """
            ])
        #expect(fixture.reload().succeeded)
        #expect(fixture.host.plugins.first?.stateCount == 1)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        for _ in 0..<4 { _ = await fixture.send(alice, .message, data: [:]) }
        let events = fixture.drain(bob).filter { $0.type == .message }
        #expect(events.map { $0.data["count"] } == [1, 2, 3, 4])
        #expect(events.allSatisfy { $0.data["states"] == 1 })
    }

    @Test func aPluginWhoseTableDependsOnChanceIsRefused() {
        // Each state runs the file: a table that differs between them cannot be pooled.
        let fixture = PluginFixture(
            [
                "dice.lua": """
                    hub.store.incr("runs")
                    local t = {}
                    if hub.store.get("runs") == 1 then t.on_publish = function() return nil end end
                    return t
                    """
            ])
        let report = fixture.reload()
        #expect(report.failed.first?.message.contains("single_state") == true, "\(report.failed)")
    }
}
