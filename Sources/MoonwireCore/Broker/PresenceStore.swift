/// Where the hub records who is in which room, so that `user_joined` goes out for a user's first
/// connection to a room and `user_left` for the last, counted over every node that shares the store.
///
/// The hub keeps its own connections in its rooms; the store only aggregates them per node. A single node
/// uses `LocalPresenceStore` (its rooms are the whole truth); the Redis broker provides one shared by all
/// nodes, with entries that expire when their node stops refreshing them.
public protocol PresenceStore: Sendable {
    /// Records that `user` has `detail` (at least one connection) in `room` on this node.
    /// - Parameter firstHere: this is the user's first connection to the room on this node.
    /// - Returns: true when the user was in the room on no node before: announce `user_joined`.
    func join(room: String, user: String, detail: PresenceDetail, firstHere: Bool) async throws -> Bool

    /// Records that one of `user`'s connections left `room` on this node; `remaining` is what the user
    /// still has here (`nil`: nothing).
    /// - Returns: true when the user is now in the room on no node: announce `user_left`.
    func leave(room: String, user: String, remaining: PresenceDetail?) async throws -> Bool

    /// The users in `room` over every node, sorted by user id; `local` is this node's view.
    func members(room: String, local: [PresenceEntry]) async throws -> [PresenceEntry]

    /// Whether `user` is in `room` on any node.
    func isPresent(user: String, room: String) async throws -> Bool
}

/// What one node holds of a user in a room.
public struct PresenceDetail: Sendable, Equatable {
    /// Connections of the user in the room on the node.
    public var connections: Int
    /// Their transports, sorted.
    public var transports: [String]
    /// The identity metadata of one of them.
    public var metadata: JSONObject

    public init(connections: Int, transports: [String], metadata: JSONObject) {
        self.connections = connections
        self.transports = transports
        self.metadata = metadata
    }
}

/// Presence on one node: the hub's rooms are the whole truth.
public struct LocalPresenceStore: PresenceStore {
    public init() {}

    public func join(room: String, user: String, detail: PresenceDetail, firstHere: Bool) async throws -> Bool {
        firstHere
    }

    public func leave(room: String, user: String, remaining: PresenceDetail?) async throws -> Bool {
        remaining == nil
    }

    public func members(room: String, local: [PresenceEntry]) async throws -> [PresenceEntry] {
        local
    }

    /// Always false: the hub asks its own rooms first.
    public func isPresent(user: String, room: String) async throws -> Bool {
        false
    }
}

/// What a broker that shares presence needs from the hub of its node (the hub's broker sink provides it).
public protocol PresenceHost: Sendable {
    /// Every (room, user) present on this node, with what the node holds of the user there.
    func localPresence() -> [(room: String, user: String, detail: PresenceDetail)]

    /// `user` is in `room` on no node any more because the node that held them stopped refreshing its
    /// entries (it was killed, or lost Redis for longer than the expiry): announce `user_left`.
    /// Called on exactly one node.
    func presenceExpired(room: String, user: String) async
}
