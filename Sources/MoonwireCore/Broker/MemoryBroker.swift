import Synchronization

/// The embedded broker: history in memory, delivery to this node only.
///
/// Ids start above the time the broker was created, so a client resuming with an id from an earlier
/// run of the hub is told that it missed events.
public final class MemoryBroker: Broker {
    private let historySize: Int
    private let maxAge: Int64
    private let floor: EventID
    private let streams = Mutex<[String: RoomStreamBox]>([:])
    private let sink = Mutex<(any BrokerSink)?>(nil)

    /// - Parameters:
    ///   - historySize: events kept per room.
    ///   - maxAge: events older than this are dropped from history (`nil`: kept until pushed out by newer ones).
    public init(historySize: Int, maxAge: Duration? = nil) {
        self.historySize = historySize
        self.maxAge = maxAge.map { Int64($0.nanoseconds / 1000) } ?? 0
        self.floor = EventID.now()
    }

    public func attach(_ sink: any BrokerSink) {
        self.sink.withLock { $0 = sink }
    }

    private func stream(_ room: String) -> RoomStreamBox {
        streams.withLock { streams in
            if let existing = streams[room] { return existing }
            let box = RoomStreamBox(RoomStream(capacity: historySize, floor: floor, maxAge: maxAge))
            streams[room] = box
            return box
        }
    }

    public func publish(_ event: Event, store: Bool) async throws -> Event {
        publishNow(event, store: store)
    }

    /// Publishes without suspending: stores, then delivers while the room is locked, so the sink sees ids in order.
    @discardableResult
    public func publishNow(_ event: Event, store: Bool) -> Event {
        let sink = self.sink.withLock { $0 }
        guard store, let room = event.roomID else {
            sink?.deliver(event)
            return event
        }
        return stream(room).state.withLock { stream in
            let stored = stream.append(event)
            sink?.deliver(stored)
            return stored
        }
    }

    public func history(room: String, _ request: HistoryRequest) async throws -> HistoryPage {
        stream(room).state.withLock { stream in
            stream.evictExpired()
            return stream.read(request)
        }
    }

    public func subscribe(room: String) async throws {}
    public func unsubscribe(room: String) async throws {}
    public func shutdown() async {}

    public func recentHistory(room: String, count: Int) -> [Event]? {
        guard let box = streams.withLock({ $0[room] }) else { return [] }
        return box.state.withLock { stream in
            stream.evictExpired()
            return stream.read(.latest(count)).events
        }
    }

    public func statistics() async -> BrokerStatistics {
        let boxes = streams.withLock { Array($0.values) }
        let retained = boxes.reduce(0) { total, box in total + box.state.withLock { $0.count } }
        return BrokerStatistics(kind: "memory", retainedEvents: retained, healthy: true)
    }
}

/// A room stream behind its own lock.
package final class RoomStreamBox: Sendable {
    package let state: Mutex<RoomStream>
    package init(_ stream: RoomStream) { self.state = Mutex(stream) }
}
