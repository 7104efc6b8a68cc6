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
        let general = Room(id: RoomName.general)
        registry.withLock { $0.rooms[RoomName.general] = general }
        self.statistics.roomsCreated.add(1, ordering: .relaxed)
        self.statistics.roomCount(1)
        broker.attach(BrokerSinkAdapter(hub: self))
    }

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

    /// Returns the room, creating it when `create` allows and the room limit is not reached.
    func room(_ id: String, create: Bool) throws(HubError) -> Room {
        if let error = RoomName.validate(id) { throw error }
        let result = registry.withLock { registry -> Result<(Room, Bool), HubError> in
            if let room = registry.rooms[id] { return .success((room, false)) }
            guard create else { return .failure(HubError(.roomNotFound, "room '\(id)' does not exist")) }
            guard registry.rooms.count < configuration.maxRooms else {
                return .failure(HubError(.roomLimit, "the hub holds its maximum of \(configuration.maxRooms) rooms"))
            }
            let room = Room(id: id)
            registry.rooms[id] = room
            return .success((room, true))
        }
        switch result {
        case .success(let (room, created)):
            if created {
                statistics.roomsCreated.add(1, ordering: .relaxed)
                statistics.roomCount(registry.withLock { $0.rooms.count })
                logger.debug("room created", metadata: ["room": "\(id)"])
            }
            return room
        case .failure(let error):
            throw error
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
}

/// Lets the broker call into the hub without the hub conforming publicly.
struct BrokerSinkAdapter: BrokerSink {
    unowned let hub: Hub
    func deliver(_ event: Event) { hub.fanOut(event) }
}
