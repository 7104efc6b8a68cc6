import Synchronization

/// A room as this node sees it: who is present, which connections receive its events, and who waits on it.
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
        state.withLock { state in state.members.values.reduce(0) { $0 + $1.count } }
    }
}

/// What a room holds, guarded by its lock.
struct RoomState {
    /// Connections that get the room's events pushed (WebSocket, SSE).
    var subscribers: ContiguousArray<Connection> = []
    /// Users present, with their connections by id (every transport, long-poll sessions included).
    var members: [String: [String: Connection]] = [:]
    /// Long-polls waiting for the room's next stored event.
    var waiters: [ObjectIdentifier: PollWaiter] = [:]

    /// Adds a connection; returns true when it is the user's first connection in the room.
    mutating func add(_ connection: Connection, receivesEvents: Bool) -> Bool {
        if receivesEvents { subscribers.append(connection) }
        // Mutated in place: a copy of a user's connections would make each join cost O(connections).
        let first = members[connection.userID]?.isEmpty ?? true
        members[connection.userID, default: [:]][connection.id] = connection
        return first
    }

    /// Removes a connection; returns true when it was the user's last connection in the room.
    mutating func remove(_ connection: Connection) -> Bool {
        if let index = subscribers.firstIndex(where: { $0 === connection }) {
            subscribers.remove(at: index)
        }
        guard members[connection.userID]?.removeValue(forKey: connection.id) != nil else {
            return false
        }
        if members[connection.userID]?.isEmpty == true {
            members.removeValue(forKey: connection.userID)
            return true
        }
        return false
    }
}
