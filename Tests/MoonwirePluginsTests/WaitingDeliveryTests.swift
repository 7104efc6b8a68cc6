import Foundation
import LuaRuntime
import MoonwireCore
import Testing
@testable import MoonwirePlugins

/// `on_deliver` filters that wait for I/O (`hub.http` against a real local server here): the recipient
/// gets the event once its filter answers, the room's later events wait behind it (each room's events go
/// out in order), and other rooms are not held up.
@Suite(.timeLimit(.minutes(2))) struct WaitingDeliveryTests {
    /// A plugin whose `on_deliver` asks the backend before events with `data.hold` reach `bob`.
    func fixture(_ backend: HTTPBackend, hubConfiguration: HubConfiguration = HubConfiguration()) -> PluginFixture {
        let source = """
            return {
              http = { allow = { "127.0.0.1:\(backend.port)" } },
              on_deliver = function(recipient, event)
                if event.event_type ~= "message" or recipient.user_id ~= "bob" then return nil end
                if event.data.hold then
                  hub.store.incr("waiting")
                  local r, err = hub.http.request { url = "\(backend.url("/hold?key="))" .. event.data.hold, timeout = 20 }
                  hub.store.incr("answered")
                  local copy = hub.copy(event)
                  copy.data.answer = r and r.body or err
                  return copy
                end
                if event.data.ask then
                  local r = hub.http.request { method = "POST", url = "\(backend.url("/echo"))", body = recipient.user_id }
                  local copy = hub.copy(event)
                  copy.data.echo = hub.json.decode(r.body).body
                  return copy
                end
                return nil
              end }
            """
        return PluginFixture(["filter.lua": source], limits: LuaLimits(callTimeout: .seconds(25)), hubConfiguration: hubConfiguration)
    }

    @Test func aFilterThatWaitsDeliversWhatTheBackendSaid() async throws {
        let backend = try HTTPBackend()
        let fixture = fixture(backend)
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        let carol = try await fixture.connect("carol")
        #expect(await fixture.send(alice, .message, data: ["ask": true]) == nil)
        var seen: [Event] = []
        try await fixture.eventually("bob's filtered copy") {
            seen += fixture.drain(bob)
            return seen.contains { $0.type == .message }
        }
        #expect(seen.first { $0.type == .message }?.data["echo"] == "bob")
        let carols = fixture.drain(carol).filter { $0.type == .message }
        #expect(carols.count == 1 && carols.first?.data["echo"] == nil, "carol's filter answered at once, unchanged")
    }

    @Test func aWaitingFilterKeepsItsRoomInOrderAndHoldsUpNoOtherRoom() async throws {
        let backend = try HTTPBackend()
        let fixture = fixture(backend)
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice", rooms: ["general", "other"])
        let bob = try await fixture.connect("bob", rooms: ["general", "other"])
        #expect(await fixture.send(alice, .message, data: ["hold": "first", "n": 1]) == nil)
        try await fixture.eventually("bob's filter to wait") { try fixture.stored("filter", "waiting") == 1 }
        for n in 2...5 { #expect(await fixture.send(alice, .message, data: ["n": .int(Int64(n))]) == nil) }
        #expect(await fixture.send(alice, .message, room: "other", data: ["n": 100]) == nil)
        var received: [Event] = []
        try await fixture.eventually("the other room's event while general waits") {
            received += fixture.drain(bob).filter { $0.type == .message }
            return received.contains { $0.roomID == "other" }
        }
        #expect(try fixture.stored("filter", "answered") == 0, "the filter is still waiting")
        #expect(!received.contains { $0.roomID == "general" }, "general's events wait behind the held one")

        try backend.release("first")
        try await fixture.eventually("general's five events") {
            received += fixture.drain(bob).filter { $0.type == .message }
            return received.filter { $0.roomID == "general" }.count >= 5
        }
        let general = received.filter { $0.roomID == "general" }
        #expect(general.map { $0.data["n"] } == [1, 2, 3, 4, 5], "in order")
        #expect(general.first?.data["answer"] == "released")
        let ids = general.compactMap(\.id)
        #expect(ids == ids.sorted() && ids.count == 5)
    }

    @Test func aRoomWhoseFiltersFallTooFarBehindSendsItsSubscribersBackToHistory() async throws {
        let backend = try HTTPBackend()
        var configuration = HubConfiguration()
        configuration.deliveryBacklogLimit = 3
        let fixture = fixture(backend, hubConfiguration: configuration)
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, .message, data: ["hold": "stuck"]) == nil)
        try await fixture.eventually("bob's filter to wait") { try fixture.stored("filter", "waiting") == 1 }
        for n in 1...3 { #expect(await fixture.send(alice, .message, data: ["n": .int(Int64(n))]) == nil) }
        #expect(bob.closeReason == nil, "three events wait: the backlog is full, not over")
        #expect(await fixture.send(alice, .message, data: ["n": 4]) == nil, "the sender is not refused")
        #expect(bob.closeReason?.code == "slow_filter")
        #expect(bob.closeReason?.closeCode == 4008)
        #expect(fixture.hub.statistics.snapshot().drops["delivery_backlog"] == 4)
        // The events are stored: a reconnecting client gets all of them from history.
        let history = try await fixture.hub.broker.history(room: "general", .latest(10)).events
        #expect(history.filter { $0.type == .message }.count == 5)
        try backend.release("stuck")
        try await fixture.eventually("the held filter to finish") { try fixture.stored("filter", "answered") == 1 }
    }

    @Test func historyReplaysAndPollsWaitForTheFilterToo() async throws {
        let backend = try HTTPBackend()
        let fixture = fixture(backend)
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        #expect(await fixture.send(alice, .message, data: ["ask": true]) == nil)
        let bob = try fixture.hub.connect(identity: Identity(userID: "bob"), transport: .webSocket)
        try await fixture.hub.join(bob, room: "general", replay: .recent(10))
        var replayed: [Event] = []
        try await fixture.eventually("the replay") {
            replayed += fixture.drain(bob).filter { $0.type == .message }
            return !replayed.isEmpty
        }
        #expect(replayed.first?.data["echo"] == "bob")
    }
}
