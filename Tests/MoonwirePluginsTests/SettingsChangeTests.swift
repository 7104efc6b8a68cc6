import Foundation
import LuaRuntime
import MoonwireCore
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
