import CoreMetrics
import Logging
import Synchronization

/// The core of Moonwire: connections, rooms, presence and the event pipeline. It knows nothing of HTTP;
/// transports hand it connections and frames, and drain what it queues for them.
///
/// ```swift
/// let hub = Hub(configuration: HubConfiguration(), broker: MemoryBroker(historySize: 100))
/// let connection = try hub.connect(identity: Identity(userID: "alice"), transport: .webSocket)
/// try await hub.join(connection, room: "general")
/// ```
public final class Hub: Sendable {
    public let configuration: HubConfiguration
    public let broker: any Broker
    public let statistics: HubStatistics
    public let logger: Logger
    /// Time for timeouts and housekeeping (a `ManualClock` in tests).
    public let clock: any HubClock
    let parser: JSONParser
    let hooksBox: Mutex<any HubHooks>
    let registry = Mutex(HubRegistry())
    let lifecycle = Mutex(Lifecycle.running)
    let pollMessages = PollMessageCache()

    enum Lifecycle {
        case running
        case shuttingDown
    }

    public init(
        configuration: HubConfiguration,
        broker: any Broker,
        hooks: any HubHooks = NoHooks(),
        statistics: HubStatistics? = nil,
        logger: Logger = Logger(label: "moonwire"),
        clock: any HubClock = SystemClock()
    ) {
        self.configuration = configuration
        self.broker = broker
        self.hooksBox = Mutex(hooks)
        self.statistics = statistics ?? HubStatistics(factory: NOOPMetricsHandler.instance)
        self.logger = logger
        self.clock = clock
        self.parser = JSONParser(maxDepth: 32)
        self.permanentRooms = Set([RoomName.general] + (configuration.autoJoinRoom.map { [$0] } ?? []))
        // The permanent rooms, and the rooms whose history the broker holds (restored from a file).
        let restored = broker.roomsWithHistory().filter { !permanentRooms.contains($0) && RoomName.validate($0) == nil }.sorted()
        let initial = permanentRooms.sorted() + restored.prefix(max(0, configuration.maxRooms - permanentRooms.count))
        registry.withLock { registry in
            for id in initial { registry.rooms[id] = Room(id: id) }
        }
        self.statistics.roomsCreated.add(initial.count, ordering: .relaxed)
        self.statistics.roomCount(initial.count)
        broker.attach(BrokerSinkAdapter(hub: self))
    }

    /// Rooms that exist for the hub's whole life, whether anyone is in them or not: `general` and the
    /// auto-join room.
    public let permanentRooms: Set<String>

    /// The plugin hooks in force.
    public var hooks: any HubHooks {
        hooksBox.withLock { $0 }
    }

    /// Replaces the plugin hooks.
    public func setHooks(_ hooks: any HubHooks) {
        hooksBox.withLock { $0 = hooks }
    }

    /// The room used when a request names none: the auto-join room, else `general`.
    public var defaultRoom: String {
        configuration.autoJoinRoom ?? RoomName.general
    }

    /// True once shutdown has begun: new connections are refused.
    public var isShuttingDown: Bool {
        lifecycle.withLock { $0 == .shuttingDown }
    }

    // MARK: Lookups

    /// A room by id, if it exists.
    public func room(_ id: String) -> Room? {
        registry.withLock { $0.rooms[id] }
    }

    /// All rooms, sorted by id.
    public var rooms: [Room] {
        registry.withLock { Array($0.rooms.values) }.sorted { $0.id < $1.id }
    }

    /// The `limit` rooms with the most users present, busiest first (ties by id).
    public func busiestRooms(_ limit: Int) -> [Room] {
        let all = registry.withLock { Array($0.rooms.values) }
        let counted = all.map { (room: $0, users: $0.userCount) }
        return counted.sorted { $0.users != $1.users ? $0.users > $1.users : $0.room.id < $1.room.id }.prefix(max(0, limit)).map(\.room)
    }

    /// A connection by id.
    public func connection(_ id: String) -> Connection? {
        registry.withLock { $0.connections[id] }
    }

    /// Every open connection.
    public var connections: [Connection] {
        registry.withLock { Array($0.connections.values) }
    }

    /// The open connections of one user.
    public func connections(ofUser userID: String) -> [Connection] {
        registry.withLock { registry in
            (registry.byUser[userID] ?? []).compactMap { registry.connections[$0] }
        }
    }

}

/// Rooms and connections by id, guarded by the hub's lock.
struct HubRegistry {
    var rooms: [String: Room] = [:]
    var connections: [String: Connection] = [:]
    var byUser: [String: Set<String>] = [:]
    /// Long-poll sessions by client id and user.
    var pollSessions: [String: Connection] = [:]
    /// Long-polls waiting for a room's next stored event, by room id (the room need not exist).
    var pollWaiters: [String: [ObjectIdentifier: PollWaiter]] = [:]
}

/// Lets the broker call into the hub without the hub conforming publicly.
struct BrokerSinkAdapter: BrokerSink {
    unowned let hub: Hub
    func deliver(_ event: Event) { hub.fanOut(event) }
}
