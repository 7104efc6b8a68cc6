public import MoonwireCore

/// One user present in a room (`GET /presence`, or a WebSocket `presence` request).
public struct PresentUser: Sendable, Hashable {
    public var userID: String
    /// How many connections of the user follow the room.
    public var connections: Int
    /// The transports of those connections: `websocket`, `sse`, `longpoll`.
    public var transports: [String]
    /// The metadata of one of those connections (the WebSocket auth frame's; `{}` for SSE and long-poll).
    public var metadata: JSONObject

    public init(userID: String, connections: Int, transports: [String], metadata: JSONObject) {
        self.userID = userID
        self.connections = connections
        self.transports = transports
        self.metadata = metadata
    }

    /// The users of a presence answer (`{"room_id", "users": [...], "count"}`).
    static func list(from answer: JSONValue) -> [PresentUser] {
        (answer["users"]?.arrayValue ?? []).compactMap { user in
            guard let id = user["user_id"]?.stringValue else { return nil }
            return PresentUser(
                userID: id,
                connections: Int(user["connections"]?.intValue ?? 0),
                transports: (user["transports"]?.arrayValue ?? []).compactMap(\.stringValue),
                metadata: user["metadata"]?.objectValue ?? [:])
        }
    }
}
