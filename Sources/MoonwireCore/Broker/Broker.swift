/// Carries publish/subscribe and history for the hub: the in-memory broker by default, Redis for several nodes.
///
/// Contract:
/// - `publish` stores the event when asked (assigning its id) and hands it to the sink of every node
///   attached to the broker that is interested in the room (`subscribe`), this one included.
/// - The sink sees each room's stored events in id order, each once.
/// - Ids come from the shared history, so every node and transport agrees on them.
/// - A broker that cannot publish right now (Redis unreachable) throws at once rather than queueing:
///   the hub answers `unavailable` (HTTP 503) and the client retries.
public protocol Broker: Sendable {
    /// Sets where published events go. Called once, before `publish`.
    func attach(_ sink: any BrokerSink)

    /// Publishes `event` to `event.roomID`. When `store` is true the event is appended to the room's
    /// history and gets its id; the returned event is what subscribers see.
    func publish(_ event: Event, store: Bool) async throws -> Event

    /// Reads a room's history.
    func history(room: String, _ request: HistoryRequest) async throws -> HistoryPage

    /// Tells the broker that this node has one more reason to receive `room`'s events: a streaming
    /// subscriber or a waiting long-poll. Calls are counted: each is balanced by one `unsubscribe`.
    /// Pub/sub brokers subscribe to the room on the first and return once the subscription is in force,
    /// so that history read afterwards and live events overlap (the connection drops the duplicates).
    func subscribe(room: String) async throws

    /// Balances one `subscribe`: when none is left the node may stop receiving the room.
    func unsubscribe(room: String) async throws

    /// Stops the broker; pending publishes fail.
    func shutdown() async

    /// Counters for `/api/stats`.
    func statistics() async -> BrokerStatistics

    /// The newest `count` events of a room without suspending, where the broker can answer that at once
    /// or by blocking briefly off the caller's event loop (plugins' `hub.history` uses it); `nil` otherwise.
    func recentHistory(room: String, count: Int) -> [Event]?

    /// Whether `recentHistory` waits for I/O (history in a server): a caller that can suspend should use
    /// `history(room:_:)` instead.
    var historyWaitsForIO: Bool { get }

    /// Where presence is shared between nodes; `nil` for a single node (the hub's own rooms tell).
    var presence: (any PresenceStore)? { get }

    /// Whether this node keeps events of `room` that clients can still read: the hub keeps a room while
    /// anyone is in it or its broker retains events of it. Brokers whose history lives elsewhere (Redis)
    /// answer false.
    func retainsHistory(room: String) -> Bool

    /// The hub removed `room` (nobody in it, nothing retained): drop what this node keeps of it, if it
    /// still retains nothing.
    func forget(room: String)

    /// Rooms whose history this node holds (at start: the rooms restored from a file), in no order.
    func roomsWithHistory() -> [String]
}

extension Broker {
    public func recentHistory(room: String, count: Int) -> [Event]? { nil }
    public var historyWaitsForIO: Bool { false }
    public var presence: (any PresenceStore)? { nil }
    public func retainsHistory(room: String) -> Bool { false }
    public func forget(room: String) {}
    public func roomsWithHistory() -> [String] { [] }
}

/// What a broker reports about itself.
public struct BrokerStatistics: Sendable {
    /// Short name: `memory`, `sqlite`, `redis`.
    public var kind: String
    /// Events retained across all rooms.
    public var retainedEvents: Int
    /// Whether the broker can publish right now.
    public var healthy: Bool
    /// Broker-specific details for `/api/stats` (Redis: connection state, reconnects; SQLite: pending writes).
    public var details: JSONObject

    public init(kind: String, retainedEvents: Int, healthy: Bool, details: JSONObject = [:]) {
        self.kind = kind
        self.retainedEvents = retainedEvents
        self.healthy = healthy
        self.details = details
    }
}

/// Receives events from a broker.
public protocol BrokerSink: Sendable {
    /// Called for every event published to any room, in id order within a room.
    func deliver(_ event: Event)
}

/// Which part of a room's history to read.
public enum HistoryRequest: Sendable, Equatable {
    /// The newest `count` events, oldest first.
    case latest(Int)
    /// Events after `id` (all retained ones when `nil`), oldest first, at most `limit`.
    case after(EventID?, limit: Int)
    /// The newest `limit` events older than `id`, oldest first (`hasMore`: older ones are retained too).
    case before(EventID, limit: Int)
}

/// A slice of a room's history.
public struct HistoryPage: Sendable {
    /// The events, oldest first.
    public var events: [Event]
    /// The room's newest id (or the position below all of its ids when it has none).
    public var head: EventID
    /// True when events after the requested id were published but are no longer retained.
    public var gap: Bool
    /// The oldest id still retained, if any.
    public var oldestRetained: EventID?
    /// True when more events follow the ones returned.
    public var hasMore: Bool

    public init(events: [Event], head: EventID, gap: Bool, oldestRetained: EventID?, hasMore: Bool) {
        self.events = events
        self.head = head
        self.gap = gap
        self.oldestRetained = oldestRetained
        self.hasMore = hasMore
    }
}
