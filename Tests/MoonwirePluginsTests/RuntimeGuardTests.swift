import LuaRuntime
import MoonwireCore
import Testing

@testable import MoonwirePlugins

/// What the host does when a plugin goes wrong: quarantine of stuck versions, quotas, freeing replaced
/// versions, refusing what would break other recipients.
@Suite struct RuntimeGuardTests {
    @Test func aCallStuckPastItsDeadlineQuarantinesTheVersionAndAFreshOneServes() async throws {
        // With one state, the stuck call holds the whole plugin.
        let fixture = PluginFixture.withStuckablePlugin(states: 1)
        #expect(fixture.reload().succeeded)
        let original = try #require(fixture.host.plugins.first)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")

        let stuck = Task { await fixture.publishOnOwnThread(["stuck": true]) }
        try await fixture.eventually("the stuck call to start") { original.busyFor != nil }
        // Another call does not wait for it forever: it gives up after the call timeout, as busy.
        #expect(await fixture.send(alice, .message, data: ["message": "meanwhile"])?.code == .rejected)
        // Busy; or, when the machine let it wait past the stuck time, it found the version stuck and quarantined it.
        let meanwhile = original.statistics.counters(for: .onPublish).failures
        #expect(meanwhile[.busy, default: 0] + meanwhile[.quarantined, default: 0] == 1, "\(meanwhile)")

        // Past the deadline and the grace, the watchdog quarantines the version and a fresh one takes over.
        try await fixture.eventually("the version to be quarantined") {
            fixture.host.checkStuckCalls()
            return original.isQuarantined
        }
        _ = await stuck.value  // the quarantine interrupted the Lua loop
        try await fixture.eventually("a fresh version") { fixture.host.plugins.first.map { $0 !== original } ?? false }
        #expect(original.statistics.quarantines == 1)
        _ = fixture.drain(bob)
        #expect(await fixture.send(alice, .message, data: ["message": "after"]) == nil)
        #expect(fixture.drain(bob).first { $0.type == .message }?.data["version_loaded_at"] != nil)
    }

    @Test func aReplacedVersionIsFreed() async throws {
        let fixture = PluginFixture(["keep.lua": "local big = string.rep('x', 1000000) return { on_load = function() hub.every(1, function() end) end }"])
        fixture.reload()
        weak var first = fixture.host.plugins.first
        #expect(first != nil)
        fixture.write("keep.lua", "return { version = '2' }")
        #expect(fixture.reload().reloaded == ["keep"])
        // Its timer task ends once cancelled; then nothing holds the old version (and its Lua state) any more.
        try await fixture.eventually("the old version to be freed") { first == nil }
    }

    @Test func timersArePerVersionAndBounded() throws {
        let fixture = PluginFixture(
            [
                "many.lua": """
                    return { on_load = function()
                      for i = 1, 5 do hub.every(60, function() end) end
                      local ok, err = pcall(hub.every, 60, function() end)
                      hub.store.set("refused", err)
                    end }
                    """
            ], configure: { $0.maxTimers = 5 })
        #expect(fixture.reload().succeeded)
        #expect(fixture.host.timers.count(of: "many") == 5)
        let refusal = try fixture.host.store.get("many", "refused")?.stringValue ?? ""
        #expect(refusal.contains("maximum of 5 timers"), "\(refusal)")
        // A reload gets its own allowance (the old version's timers stop).
        fixture.write("many.lua", "return { version = '2', on_load = function() for i = 1, 5 do hub.every(60, function() end) end end }")
        #expect(fixture.reload().succeeded)
        #expect(fixture.host.timers.count(of: "many") == 5)
    }

    @Test func publishesQueueWithinTheirBytes() async throws {
        let fixture = PluginFixture(
            [
                "flood.lua": """
                    return { on_publish = function(ctx, event)
                      if event.data.flood then
                        local ok, err = pcall(function() for i = 1, 1000 do hub.publish("general", "message", { text = string.rep("x", 1000) }) end end)
                        hub.store.set("refused", err)
                      end
                    end }
                    """
            ], configure: { $0.publishQueueBytes = 16 << 10 })
        fixture.reload()
        let alice = try await fixture.connect("alice")
        _ = await fixture.send(alice, .message, data: ["flood": true])
        let refusal = try fixture.host.store.get("flood", "refused")?.stringValue ?? ""
        #expect(refusal.contains("plugins.publish_queue_bytes"), "\(refusal)")
    }

    @Test func aPublishChainEndsAtTheHopLimit() async throws {
        let fixture = PluginFixture(
            ["echo.lua": "return { types = { echo = { stored = false, handle = function(ctx, e) hub.publish(e.room_id, 'echo', e.data) end } } }"],
            configure: { $0.maxPublishHops = 3 })
        fixture.reload()
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, "echo", data: [:]) == nil)
        let statistics = try #require(fixture.host.plugins.first?.statistics)
        try await fixture.eventually("the chain to be dropped") { statistics.droppedPublishes[.publishLoop] == 1 }
        var echoes: [Event] = []
        try await fixture.eventually("the chain's events") {
            echoes += fixture.drain(bob)
            return echoes.count == 4
        }
        #expect(echoes.map(\.pluginHops) == [0, 1, 2, 3])
    }

    @Test func aReadOnlyEventCannotBeMarkedAsAnArray() async throws {
        let fixture = PluginFixture([
            "mark.lua": """
                return { on_deliver = function(recipient, event)
                  if recipient.user_id == "bob" and event.event_type == "message" then hub.array(event) event.data.changed = true end
                end }
                """
        ])
        fixture.reload()
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        let carol = try await fixture.connect("carol")
        #expect(await fixture.send(alice, .message, data: ["message": "hi"]) == nil)
        #expect(fixture.drain(bob).filter { $0.type == .message }.isEmpty, "the failing on_deliver withholds bob's copy")
        #expect(fixture.drain(carol).first { $0.type == .message }?.data == ["message": "hi"], "later recipients see the event unchanged")
        let failures = try #require(fixture.host.plugins.first?.statistics.counters(for: .onDeliver).failures)
        #expect(failures[.error] == 1)
    }

    @Test func badReturnValuesAreCountedWithAReason() async throws {
        let fixture = PluginFixture(["bad.lua": "return { on_publish = function() return function() end end }"])
        fixture.reload()
        let alice = try await fixture.connect("alice")
        #expect(await fixture.send(alice, .message, data: ["message": "x"])?.code == .rejected)
        let plugin = try #require(fixture.host.plugins.first)
        #expect(plugin.statistics.counters(for: .onPublish).failures[.badReturn] == 1)
        #expect(plugin.statistics.lastFailure?.message.contains("returned a function") == true)
    }
}

@Suite struct StoreQuotaTests {
    @Test func keysAndBytesAreBoundedPerPlugin() throws {
        let store = PluginStore(quota: PluginStoreQuota(maxKeys: 3, maxBytes: 100))
        try store.set("p", "a", 1)
        try store.set("p", "b", 2)
        try store.set("p", "c", 3)
        #expect(throws: PluginStoreError.self) { try store.set("p", "d", 4) }
        try store.set("p", "a", 5)  // replacing is not adding
        try store.set("q", "d", 4)  // another plugin has its own quota
        #expect(throws: PluginStoreError.self) { try store.set("q", "big", .string(String(repeating: "x", count: 200))) }
        try store.set("p", "a", nil)
        try store.set("p", "d", 4)
        #expect(store.usage("p").keys == 3)
    }

    @Test func expiredKeysMakeRoom() throws {
        let clock = ManualClock()
        let store = PluginStore(quota: PluginStoreQuota(maxKeys: 1, maxBytes: 1000), clock: clock)
        try store.set("p", "a", 1, ttl: 1)
        #expect(throws: PluginStoreError.self) { try store.set("p", "b", 2) }
        clock.advance(by: .seconds(2))
        try store.set("p", "b", 2)
        #expect(store.keys("p") == ["b"])
    }

    @Test func incrementsNeverTrap() throws {
        let store = PluginStore()
        #expect(try store.increment("p", "i", by: .int(.max)) == .int(.max))
        #expect(throws: PluginStoreError.self) { try store.increment("p", "i", by: .int(1)) }
        #expect(try store.increment("p", "f", by: .double(4.611686018427388e18)) == .int(1 << 62))
        #expect(throws: PluginStoreError.self) { try store.increment("p", "f", by: .double(4.611686018427388e18)) }
        #expect(throws: PluginStoreError.self) { try store.increment("p", "n", by: .double(.infinity)) }
        #expect(throws: PluginStoreError.self) { try store.increment("p", "n", by: .double(.nan)) }
        #expect(try store.increment("p", "d", by: .double(1e308)) == .double(1e308))
        #expect(throws: PluginStoreError.self) { try store.increment("p", "d", by: .double(1e308)) }
        try store.set("p", "t", 1, ttl: .infinity)  // clamped, never a trap
        try store.set("p", "t", 1, ttl: 1e300)
    }
}
