import Foundation
import LuaRuntime
import MoonwireCore
import Synchronization
import Testing
@testable import MoonwirePlugins

/// Settings changed while the plugin runs: merged, checked against the schema, handed to a new version
/// through the hand-over (its state kept), or refused with the old settings left in force.
@Suite struct SettingsChangeTests {
    static let counter = """
        local count = 0
        return {
          single_state = true,
          config = { step = { type = "integer", default = 1, min = 1 }, label = { type = "string", default = "n" } },
          on_load = function(config, saved) count = saved or 0 end,
          on_unload = function() return count end,
          on_publish = function(ctx, event)
            count = count + hub.config.step
            event.data[hub.config.label] = count
            return event
          end }
        """

    @Test func aChangeIsMergedCheckedAndHandedOverWithTheState() async throws {
        let fixture = PluginFixture(["counter.lua": Self.counter], settings: ["counter": ["label": "total"]])
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, .message, data: [:]) == nil)
        #expect(await fixture.send(alice, .message, data: [:]) == nil)

        let changed = fixture.host.changeSettings(of: "counter", ["step": 10])
        #expect(try changed.get() == ["step": 10, "label": "total"], "merged onto the settings in force")
        #expect(await fixture.send(alice, .message, data: [:]) == nil)
        let counts = fixture.drain(bob).filter { $0.type == .message }.map { $0.data["total"] }
        #expect(counts == [1, 2, 12], "the count was handed over; the new step applies")

        #expect(fixture.host.changeSettings(of: "counter", ["step": 0]) == .failure(.refused("plugin 'counter': config key 'step' must be at least 1, got 0")))
        #expect(fixture.host.changeSettings(of: "counter", ["stpe": 2]).isRefused)
        #expect(fixture.host.changeSettings(of: "nosuch", ["x": 1]) == .failure(.noSuchPlugin("nosuch")))
        #expect(fixture.host.plugins.first?.config["step"] == 10, "refused changes leave the settings in force")

        // null removes a key: it takes its default again. A later reload keeps the changed settings.
        #expect(try fixture.host.changeSettings(of: "counter", ["label": .null]).get() == ["step": 10, "label": "n"])
        fixture.write("counter.lua", Self.counter + "\n-- v2")
        #expect(fixture.reload().reloaded == ["counter"])
        #expect(fixture.host.plugins.first?.config["step"] == 10)
        #expect(await fixture.send(alice, .message, data: [:]) == nil)
        #expect(fixture.drain(bob).first { $0.type == .message }?.data["n"] == 22)
    }
}

extension Result where Failure == PluginHost.PluginChangeError {
    var isRefused: Bool {
        if case .failure(.refused) = self { return true }
        return false
    }
}

/// The configuration file's `[plugins.NAME]` tables, read again on every reload.
@Suite struct SettingsRereadTests {
    /// What the "file" holds; a test changes it between reloads.
    final class FakeFile: Sendable {
        let tables = Mutex<[String: JSONObject]>([:])
    }

    @Test func aChangedTableReloadsItsPluginWithItsStateAndABadOneKeepsTheOld() async throws {
        let file = FakeFile()
        file.tables.withLock { $0 = ["counter": ["label": "total"]] }
        let fixture = PluginFixture(["counter.lua": SettingsChangeTests.counter, "other.lua": "return {}"], settings: ["counter": ["label": "total"]]) { options in
            options.settingsSource = { file.tables.withLock { $0 } }
        }
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, .message, data: [:]) == nil)

        file.tables.withLock { $0 = ["counter": ["label": "total", "step": 5]] }
        let changed = fixture.reload()
        #expect(changed.reloaded == ["counter"], "only the plugin whose table changed")
        #expect(changed.unchanged == ["other"])
        #expect(await fixture.send(alice, .message, data: [:]) == nil)
        #expect(fixture.drain(bob).filter { $0.type == .message }.map { $0.data["total"] } == [1, 6], "state handed over, the new step in force")

        file.tables.withLock { $0 = ["counter": ["label": "total", "step": -1]] }
        let refused = fixture.reload()
        #expect(refused.failed.map(\.plugin) == ["counter"])
        #expect(refused.failed.first?.message.contains("config key 'step' must be at least 1") == true)
        #expect(fixture.host.plugins.first { $0.name == "counter" }?.config["step"] == 5, "the old settings stay in force")
        #expect(fixture.reload().failed.map(\.plugin) == ["counter"], "tried again on the next reload, until the file is fixed")

        // A change made through the API stays while the file's table for that plugin does not change.
        file.tables.withLock { $0 = ["counter": ["label": "total", "step": 5]] }
        #expect(fixture.reload().succeeded)
        _ = try fixture.host.changeSettings(of: "counter", ["step": 7]).get()
        #expect(fixture.reload().unchanged.contains("counter"))
        #expect(fixture.host.plugins.first { $0.name == "counter" }?.config["step"] == 7)
    }
}
