import Foundation
import MoonwireCore
import Testing
@testable import MoonwirePlugins

/// A shadow is compared on connects, joins and a type's `validate` and `handle`, not only on publishes
/// and deliveries.
@Suite struct ShadowHookTests {
    static let live = """
        return {
          on_connect = function(ctx) return { user_id = ctx.user_id, roles = {} } end,
          on_join = function(ctx, room) return nil end,
          types = { vote = { validate = function(data) return type(data.choice) == "string" end,
                             handle = function(ctx, event) return nil end } } }
        """

    @Test func connectsJoinsAndTypeHandlersAreCompared() async throws {
        let candidate = Self.live
            .replacingOccurrences(of: "roles = {} }", with: "roles = { \"member\" } }")
            .replacingOccurrences(
                of: "on_join = function(ctx, room) return nil end",
                with: "on_join = function(ctx, room) if room == \"vip\" then return false, \"members only\" end end")
            .replacingOccurrences(
                of: "handle = function(ctx, event) return nil end", with: "handle = function(ctx, event) event.data.weight = 2 return event end")
        let fixture = PluginFixture(["gate.lua": Self.live])
        #expect(fixture.reload().succeeded)
        let shadow = try fixture.host.startShadow(of: "gate", text: candidate).get()
        guard case .success(let identity) = await fixture.hub.authenticate(ConnectRequest(transport: .webSocket, claimedUserID: "alice")) else {
            Issue.record("alice was not let in")
            return
        }
        #expect(identity.roles == [], "the live answer is applied")
        let alice = try fixture.hub.connect(identity: identity, transport: .webSocket)
        try await fixture.hub.join(alice, room: "vip", replay: Replay.none)
        try await fixture.hub.join(alice, room: "lobby", replay: Replay.none)
        #expect(await fixture.send(alice, "vote", room: "lobby", data: ["choice": "yes"]) == nil)
        let json = shadow.json
        #expect(json["calls"]?["on_connect"] == 1)
        #expect(json["disagreements"]?["on_connect"] == 1)
        #expect(json["calls"]?["on_join"] == 2)
        #expect(json["disagreements"]?["on_join"] == 1)
        #expect(json["calls"]?["vote.validate"] == 1)
        #expect(json["disagreements"]?["vote.validate"] == nil)
        #expect(json["disagreements"]?["vote.handle"] == 1)
        let join = json["samples"]?.arrayValue?.first { $0["step"] == "on_join" }
        #expect(join?["room_id"] == "vip")
        #expect(join?["shadow"] == "rejected (rejected): members only")
    }
}
