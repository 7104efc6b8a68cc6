import Foundation
import MoonwireCore
import Testing
@testable import MoonwirePlugins

/// Shadow versions: asked what the live one is asked, recorded, never applied; their `hub` functions
/// change nothing.
@Suite struct ShadowTests {
    static let filter = """
        return {
          on_load = function() hub.every(1, function() hub.publish("general", "tick", {}) end) end,
          on_deliver = function(recipient, event)
            if event.event_type ~= "message" or event.data.phone == nil then return nil end
            hub.store.set("saw", true)
            hub.kick("alice", "x")
            return nil
          end }
        """

    @Test func deliveryAnswersAreComparedPerRoleAndTheShadowChangesNothing() async throws {
        let fixture = PluginFixture(["filter.lua": Self.filter])
        #expect(fixture.reload().succeeded)
        // The live version kicks and writes; strip that from it, keep it in the shadow, which also hides phone.
        fixture.write("filter.lua", Self.filter.replacingOccurrences(of: "hub.store.set(\"saw\", true)\n    hub.kick(\"alice\", \"x\")\n", with: ""))
        #expect(fixture.reload().reloaded == ["filter"])
        let candidate = Self.filter.replacingOccurrences(of: "return nil\n  end }", with: "local c = hub.copy(event) c.data.phone = nil return c\n  end }")
        #expect(candidate != Self.filter)
        let shadow = try fixture.host.startShadow(of: "filter", text: candidate).get()
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob", roles: ["staff"])
        #expect(await fixture.send(alice, .message, data: ["message": "call me", "phone": "555"]) == nil)
        #expect(await fixture.send(alice, .message, data: ["message": "plain"]) == nil)
        let got = fixture.drain(bob).filter { $0.type == .message }
        #expect(got.first?.data["phone"] == "555", "the live version's answer is applied")
        let json = shadow.json
        #expect(json["calls"]?["on_deliver (roles: staff)"] == 2)
        #expect(json["disagreements"]?["on_deliver (roles: staff)"] == 1)
        #expect(json["samples"]?.arrayValue?.first?["shadow"] == #"changed: data = {"message":"call me"}"#)
        #expect(try fixture.host.store.get("filter", "saw") == nil, "the shadow's store writes are not made")
        #expect(alice.closeReason == nil, "nor its kicks")
        #expect(fixture.host.timerCount(of: "filter") == 1, "nor its timers: only the live version's")
        #expect(fixture.host.discardShadow(of: "filter"))
        #expect(fixture.host.shadow(of: "filter") == nil)
    }
}
