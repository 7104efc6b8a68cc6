import Foundation
import LuaRuntime
import MoonwireCore
import Testing
@testable import MoonwirePlugins

/// A stored event is delivered after its room's lock is released: `on_deliver` may read the room it
/// filters, and the room's events still reach every subscriber once each, in order.
@Suite struct DeliveryOutsideLocksTests {
    @Test func onDeliverMayReadTheHistoryOfItsOwnRoom() async throws {
        let fixture = PluginFixture(
            [
                "peek.lua": """
                    return { on_deliver = function(recipient, event)
                      local recent = hub.history(event.room_id, 5)
                      local copy = hub.copy(event)
                      copy.data.history_seen = #recent
                      copy.data.newest = recent[#recent] and recent[#recent].event_id
                      return copy
                    end }
                    """
            ])
        #expect(fixture.reload().succeeded)
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        for n in 1...3 { #expect(await fixture.send(alice, .message, data: ["n": .int(Int64(n))]) == nil) }
        let events = fixture.drain(bob).filter { $0.type == .message }
        #expect(events.count == 3)
        // Each event is already in history when its recipients are filtered.
        #expect(events.map { $0.data["history_seen"]?.intValue } == [1, 2, 3])
        #expect(events.allSatisfy { $0.data["newest"]?.stringValue == $0.id?.description })
    }

    @Test func concurrentPublishersToOneRoomAreDeliveredOnceEachInOrder() async throws {
        let fixture = PluginFixture(
            ["tag.lua": "return { on_deliver = function(recipient, event) return true end }"])
        #expect(fixture.reload().succeeded)
        let reader = try await fixture.connect("reader")
        let publishers = 4
        let perPublisher = 200
        var writers: [Connection] = []
        for index in 0..<publishers { writers.append(try await fixture.connect("writer\(index)")) }
        await withTaskGroup(of: Void.self) { group in
            for (index, writer) in writers.enumerated() {
                group.addTask {
                    for n in 0..<perPublisher { _ = await fixture.send(writer, .message, data: ["from": .int(Int64(index)), "n": .int(Int64(n))]) }
                }
            }
        }
        var received: [Event] = []
        try await fixture.eventually("every event to reach the reader") {
            received += fixture.drain(reader).filter { $0.type == .message }
            return received.count >= publishers * perPublisher
        }
        #expect(received.count == publishers * perPublisher)
        let ids = received.compactMap(\.id)
        #expect(ids == ids.sorted() && Set(ids).count == ids.count, "in id order, none twice")
        for index in 0..<publishers {
            let mine = received.filter { $0.data["from"]?.intValue == Int64(index) }.compactMap { $0.data["n"]?.intValue }
            #expect(mine == (0..<Int64(perPublisher)).map { $0 })
        }
    }
}
