import Synchronization

/// The embedded broker: history in memory, delivery to this node only.
///
/// Ids start above the time the broker was created, so a client resuming with an id from an earlier
/// run of the hub is told that it missed events.
public final class MemoryBroker: Broker {
    private let table: StreamTable
    private let sink = Mutex<(any BrokerSink)?>(nil)

    /// - Parameters:
    ///   - historySize: events kept per room.
    ///   - maxAge: events older than this are dropped from history (`nil`: kept until pushed out by newer ones).
    ///   - maxBytes: history kept over every room together, in bytes (`Event.retainedByteCount`); past it the
    ///     oldest events go first, whatever their room (0: no cap).
    public init(historySize: Int, maxAge: Duration? = nil, maxBytes: Int = 0) {
        self.table = StreamTable(
            limits: StreamTable.Limits(
                eventsPerRoom: historySize, maxAgeMicroseconds: maxAge.map { Int64($0.nanoseconds / 1000) } ?? 0, maxBytes: maxBytes),
            floor: EventID.now())
    }

    public func attach(_ sink: any BrokerSink) {
        self.sink.withLock { $0 = sink }
    }

    public func publish(_ event: Event, store: Bool) async throws -> Event {
        publishNow(event, store: store)
    }

    /// Publishes without suspending: stores, then delivers once the room's lock is released, in the order
    /// the room stored its events (another publisher to the room may deliver it).
    @discardableResult
    public func publishNow(_ event: Event, store: Bool) -> Event {
        let sink = self.sink.withLock { $0 }
        guard store, let room = event.roomID else {
            sink?.deliver(event)
            return event
        }
        return table.append(room, { $0.append(event) }, deliver: { sink?.deliver($0) })
    }

    public func history(room: String, _ request: HistoryRequest) async throws -> HistoryPage {
        table.read(room, request)
    }

    public func subscribe(room: String) async throws {}
    public func unsubscribe(room: String) async throws {}
    public func shutdown() async {}

    public func recentHistory(room: String, count: Int) -> [Event]? {
        table.withStream(room, create: false) { stream in
            stream.evictExpired()
            return stream.read(.latest(count)).events
        } ?? []
    }

    public func retainsHistory(room: String) -> Bool {
        table.retains(room)
    }

    public func forget(room: String) {
        table.forget(room)
    }

    public func roomsWithHistory() -> [String] {
        table.roomsWithEvents()
    }

    public func statistics() async -> BrokerStatistics {
        BrokerStatistics(
            kind: "memory", retainedEvents: table.retainedEvents, healthy: true,
            details: ["retained_bytes": .int(Int64(table.retainedBytes)), "max_bytes": .int(Int64(table.limits.maxBytes))])
    }
}
