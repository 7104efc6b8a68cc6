import Testing
@testable import MoonwireCore

/// A transport that records what the pump hands it.
struct RecordingTransport: Transport {
    var written: [OutboundItem] = []
    var closedWith: DisconnectReason?

    mutating func write(_ items: [OutboundItem]) async throws { written.append(contentsOf: items) }
    mutating func close(_ reason: DisconnectReason) async { closedWith = reason }

    var events: [Event] {
        written.compactMap { if case .event(let encoded) = $0 { return encoded.event } else { return nil } }
    }
}

@Suite struct ConnectionTests {
    func connection(limit: Int = 1 << 20) -> Connection {
        Connection(transport: .webSocket, identity: Identity(userID: "alice"), remoteAddress: nil, queueLimit: limit)
    }

    @Test func queueOverflowClosesAsSlowConsumerAndDropsTheQueue() async {
        let connection = connection(limit: 2_000)
        var accepted = 0
        for i in 0..<100 {
            if connection.send(Event(type: .message, userID: "bob", roomID: "general", data: ["message": .string("message \(i)")])) {
                accepted += 1
            }
        }
        #expect(accepted > 0 && accepted < 100)
        #expect(connection.closeReason == .slowConsumer)
        #expect(connection.queuedBytes == 0)
        var transport = RecordingTransport()
        let reason = await connection.pump(into: &transport)
        #expect(reason == .slowConsumer)
        #expect(transport.closedWith == .slowConsumer)
        #expect(transport.events.isEmpty)
    }

    @Test func gracefulCloseSendsWhatIsQueuedFirst() async {
        let connection = connection()
        connection.send(Event(type: .notification, userID: "system", roomID: nil, data: ["n": 1]))
        connection.send(Event(type: .notification, userID: "system", roomID: nil, data: ["n": 2]))
        connection.close(.shutdown)
        var transport = RecordingTransport()
        let reason = await connection.pump(into: &transport)
        #expect(reason == .shutdown)
        #expect(transport.events.map { $0.data["n"] } == [1, 2])
        #expect(connection.send(Event(type: .notification, userID: "system", roomID: nil)) == false)
    }

    @Test func replayThenHeldLiveEventsWithoutDuplicates() async {
        let connection = connection()
        #expect(connection.beginSubscription("general"))
        #expect(!connection.beginSubscription("general"))
        func stored(_ id: Int64) -> EncodedEvent {
            EncodedEvent(Event(type: .message, userID: "bob", roomID: "general", data: ["id": .int(id)], id: EventID(id)))
        }
        // Live events arriving during the replay are held; 3 is also in the replay.
        _ = connection.deliver(stored(3), room: "general")
        _ = connection.deliver(stored(4), room: "general")
        connection.finishReplay("general", notice: nil, replay: [stored(2), stored(3)], position: EventID(3))
        _ = connection.deliver(stored(4), room: "general")  // a duplicate from the broker
        _ = connection.deliver(stored(5), room: "general")
        connection.close(.clientClosed)
        var transport = RecordingTransport()
        _ = await connection.pump(into: &transport)
        #expect(transport.events.compactMap { $0.id?.value } == [2, 3, 4, 5])
        #expect(connection.position(in: "general") == EventID(5))
    }

    @Test func eventsForRoomsNotFollowedAreSkipped() {
        let connection = connection()
        let event = EncodedEvent(Event(type: .message, userID: "bob", roomID: "news", id: EventID(1)))
        #expect(connection.deliver(event, room: "news") == .skipped)
    }
}
