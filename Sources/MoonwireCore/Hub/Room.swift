import Synchronization

/// A room as this node sees it: who is present and which connections receive its events.
///
/// A room exists while anyone is in it, something holds it (a join, a publish or a poll in progress), or
/// its broker retains events of it; then the hub removes it (`Hub.collect`). The rooms in
/// `Hub.permanentRooms` stay.
public final class Room: Sendable {
    public let id: String
    public let createdAt: Timestamp
    let state = Mutex(RoomState())

    init(id: String) {
        self.id = id
        self.createdAt = .now()
    }

    /// Connections that receive the room's events (a snapshot; cheap to take).
    var subscribers: ContiguousArray<Connection> {
        state.withLock { $0.subscribers }
    }

    /// Present users with their connections in this room.
    public var members: [String: [Connection]] {
        state.withLock { state in state.members.mapValues { Array($0.values) } }
    }

    /// Number of distinct users present.
    public var userCount: Int {
        state.withLock { $0.members.count }
    }

    /// Number of connections present.
    public var connectionCount: Int {
        state.withLock { $0.connectionCount }
    }
}

/// What a room holds, guarded by its lock.
struct RoomState {
    /// Connections that get the room's events pushed (WebSocket, SSE).
    var subscribers: ContiguousArray<Connection> = []
    /// Where each subscriber sits in `subscribers`, so that leaving costs O(1).
    private var subscriberPositions: [ObjectIdentifier: Int] = [:]
    /// Users present, with their connections by id (every transport, long-poll sessions included).
    var members: [String: [String: Connection]] = [:]
    /// Connections present, all users together.
    private(set) var connectionCount = 0
    /// Operations in progress that need the room to stay (`Hub.holdRoom`).
    var holds = 0
    /// Changes with every hold, so that a removal decided on an older state does not go ahead.
    var epoch: UInt64 = 0
    /// Set when the hub removed the room.
    var removed = false
    /// `user_joined` / `user_left` waiting to go out as one `presence_diff` (large rooms).
    var pendingDiff: PresenceDiff?
    /// Set while a fan-out of the room waits for a delivery filter: the room's later events wait here.
    var deliveryBacklog: DeliveryBacklog?

    /// Nobody in the room, nothing holding it.
    var isIdle: Bool { holds == 0 && members.isEmpty && subscribers.isEmpty }

    /// Adds a connection; returns true when it is the user's first connection in the room.
    mutating func add(_ connection: Connection, receivesEvents: Bool) -> Bool {
        if receivesEvents, subscriberPositions[ObjectIdentifier(connection)] == nil {
            subscriberPositions[ObjectIdentifier(connection)] = subscribers.count
            subscribers.append(connection)
        }
        // Mutated in place: a copy of a user's connections would make each join cost O(connections).
        let first = members[connection.userID]?.isEmpty ?? true
        if members[connection.userID, default: [:]].updateValue(connection, forKey: connection.id) == nil {
            connectionCount += 1
        }
        return first
    }

    /// Whether `connection` gets the room's events pushed.
    func isSubscriber(_ connection: Connection) -> Bool {
        subscriberPositions[ObjectIdentifier(connection)] != nil
    }

    /// Removes a connection; returns true when it was the user's last connection in the room.
    mutating func remove(_ connection: Connection) -> Bool {
        if let position = subscriberPositions.removeValue(forKey: ObjectIdentifier(connection)) {
            let last = subscribers.count - 1
            if position != last {
                subscribers.swapAt(position, last)
                subscriberPositions[ObjectIdentifier(subscribers[position])] = position
            }
            subscribers.removeLast()
        }
        guard members[connection.userID]?.removeValue(forKey: connection.id) != nil else {
            return false
        }
        connectionCount -= 1
        if members[connection.userID]?.isEmpty == true {
            members.removeValue(forKey: connection.userID)
            return true
        }
        return false
    }
}
