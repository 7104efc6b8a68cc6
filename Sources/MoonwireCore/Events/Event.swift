/// A real-time event, in the seed's shape: `event_id`, `event_type`, `user_id`, `room_id`, `data`, `timestamp`.
public struct Event: Sendable, Hashable {
    /// Set when the event is stored: orders it within its room. `nil` for ephemeral events.
    public var id: EventID?
    /// The id ephemeral events carry on the wire (a UUID); stored events use `id`.
    public var ephemeralID: String
    public var type: EventType
    /// Who sent it: the identity established at connect time, or `system` for the hub.
    public var userID: String
    public var roomID: String?
    /// The payload; an object for every built-in type.
    public var data: JSONValue
    public var timestamp: Timestamp
    /// The connection that sent the event; it is not echoed back there. Not part of the wire form.
    public var origin: String?
    /// How many plugin publishes led to this event: 0 for an event a client or the API published, one more
    /// than the event a plugin was handling when it called `hub.publish`. Bounds publish loops. Not part
    /// of the wire form.
    public var pluginHops = 0

    public init(
        type: EventType,
        userID: String,
        roomID: String?,
        data: JSONValue = .object([:]),
        id: EventID? = nil,
        timestamp: Timestamp = .now()
    ) {
        self.id = id
        self.ephemeralID = id == nil ? RandomID.uuid() : ""
        self.type = type
        self.userID = userID
        self.roomID = roomID
        self.data = data
        self.timestamp = timestamp
        self.origin = nil
    }

    /// The `event_id` as sent on the wire: the decimal id of a stored event, a UUID otherwise.
    public var wireID: String { id?.description ?? ephemeralID }

    /// Whether the event was stored in its room's history.
    public var isStored: Bool { id != nil }

    /// The user id the hub uses for events it originates itself.
    public static let systemUser = "system"
}

extension Event {
    /// An `error` event for the client, naming the problem.
    public static func error(_ error: HubError, roomID: String? = nil, ref: JSONValue? = nil) -> Event {
        var data: JSONObject = ["code": .string(error.code.rawValue), "message": .string(error.message)]
        if let ref { data["ref"] = ref }
        return Event(type: .error, userID: systemUser, roomID: roomID, data: .object(data))
    }
}
