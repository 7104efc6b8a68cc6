import Synchronization
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

@Suite struct ConnectionLimitTests {
    @Test func anEventLargerThanTheQueueEndsAWaitingPumpAtOnce() async throws {
        let connection = Connection(transport: .webSocket, identity: Identity(userID: "a"), remoteAddress: nil, queueLimit: 1_000)
        let pump = Task {
            var transport = RecordingTransport()
            return await connection.pump(into: &transport)
        }
        try await Task.sleep(for: .milliseconds(50))  // the pump is now waiting for work
        connection.send(Event(type: .notification, userID: "system", roomID: nil, data: ["blob": .string(String(repeating: "x", count: 5_000))]))
        #expect(await pump.value == .slowConsumer)
    }

    @Test func aReplayThatDoesNotFitIsCutWithAGapNotice() async {
        let connection = Connection(transport: .webSocket, identity: Identity(userID: "a"), remoteAddress: nil, queueLimit: 4_000)
        _ = connection.beginSubscription("general")
        let replay = (1...20).map { i in
            EncodedEvent(Event(type: .message, userID: "b", roomID: "general", data: ["pad": .string(String(repeating: "x", count: 300))], id: EventID(Int64(i))))
        }
        connection.finishReplay("general", notice: nil, replay: replay, position: EventID(20))
        #expect(connection.closeReason == nil)
        connection.close(.clientClosed)
        var transport = RecordingTransport()
        _ = await connection.pump(into: &transport)
        let events = transport.events
        #expect(events.first?.type == .gap)
        #expect(events.first?.data["skipped"]?.intValue ?? 0 > 0)
        let kept = events.dropFirst().compactMap { $0.id?.value }
        #expect(!kept.isEmpty && kept.last == 20)
        #expect(kept == Array((21 - Int64(kept.count))...20))
        #expect(Int64(kept.count) + (events.first?.data["skipped"]?.intValue ?? 0) == 20)
    }
}

@Suite struct NoHistoryTests {
    @Test func historySizeZeroKeepsNothingButStillGivesIDs() async throws {
        let broker = MemoryBroker(historySize: 0)
        let stored = try await broker.publish(Event(type: .message, userID: "a", roomID: "general"), store: true)
        #expect(stored.id != nil)
        let page = try await broker.history(room: "general", .after(nil, limit: 10))
        #expect(page.events.isEmpty)
        #expect(page.head == stored.id)
        let resumed = try await broker.history(room: "general", .after(EventID(stored.id!.value - 1), limit: 10))
        #expect(resumed.gap)
    }
}

/// The close grace: a closing connection keeps its socket while its last writes make progress.
@Suite struct CloseGraceTests {
    let grace: UInt64 = 2_000_000_000
    let limit: UInt64 = 30_000_000_000

    /// Bytes a test says are waiting in the transport.
    final class Pending: Sendable {
        let bytes: Atomic<Int>
        init(_ bytes: Int) { self.bytes = Atomic(bytes) }
    }

    func closing(_ clock: ManualClock, pending: Pending) -> Connection {
        let connection = Connection(transport: .webSocket, identity: Identity(userID: "alice"), remoteAddress: nil, queueLimit: 1 << 20, clock: clock)
        connection.onPendingWrites { pending.bytes.load(ordering: .relaxed) }
        return connection
    }

    func stuck(_ connection: Connection, _ clock: ManualClock) async -> Bool {
        await connection.closeIsStuck(now: clock.now(), grace: grace, limit: limit)
    }

    @Test func aClientThatStillReadsKeepsItsSocketOneThatStoppedLosesIt() async {
        let clock = ManualClock()
        let pending = Pending(100_000)
        let connection = closing(clock, pending: pending)
        clock.advance(by: .seconds(10))
        #expect(await !stuck(connection, clock), "an open connection is never stuck")
        connection.close(.slowConsumer)
        // The client reads: the bytes waiting go down between checks, for longer than the grace.
        for _ in 0..<5 {
            clock.advance(by: .seconds(1))
            pending.bytes.subtract(10_000, ordering: .relaxed)
            #expect(await !stuck(connection, clock))
        }
        // It stops reading: stuck once the grace has passed without progress, not before.
        clock.advance(by: .seconds(2))
        #expect(await !stuck(connection, clock))
        clock.advance(by: .milliseconds(1))
        #expect(await stuck(connection, clock))
    }

    @Test func nothingWaitingIsProgressAndTheLimitHoldsAnyway() async {
        let clock = ManualClock()
        let pending = Pending(0)
        let connection = closing(clock, pending: pending)
        connection.close(.kicked())
        for _ in 0..<29 {
            clock.advance(by: .seconds(1))
            #expect(await !stuck(connection, clock))
        }
        clock.advance(by: .seconds(2))
        #expect(await stuck(connection, clock), "30 s of closing is the most")

        // Without a probe (a transport that cannot tell), the grace counts from the start of closing.
        let bare = Connection(transport: .sse, identity: Identity(userID: "bob"), remoteAddress: nil, queueLimit: 1 << 20, clock: clock)
        bare.close(.shutdown)
        clock.advance(by: .seconds(2))
        #expect(await !stuck(bare, clock))
        clock.advance(by: .milliseconds(1))
        #expect(await stuck(bare, clock))
    }
}
