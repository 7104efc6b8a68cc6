public import MoonwireCore

extension Event {
    /// Reads an event from its wire JSON: the six fields of docs/protocol.md §2.1 (a long-poll message's
    /// extra seed fields are ignored). `nil` when `event_id` or `event_type` is missing or `room_id` is
    /// neither a string nor null. A decimal `event_id` makes a stored event (`id`), anything else an
    /// ephemeral one (`ephemeralID`), so `wireID` and `jsonBytes` give the event back as the hub wrote it.
    public init?(wire value: JSONValue) {
        guard let type = value["event_type"]?.stringValue, let eventID = value["event_id"]?.stringValue else { return nil }
        let room: String?
        switch value["room_id"] {
        case .string(let name)?: room = name
        case .null?, nil: room = nil
        default: return nil
        }
        let id = EventID(eventID)
        self.init(
            type: EventType(type), userID: value["user_id"]?.stringValue ?? Event.systemUser, roomID: room,
            data: value["data"] ?? .object([:]), id: id, timestamp: Timestamp(seconds: value["timestamp"]?.doubleValue ?? 0))
        if id == nil { ephemeralID = eventID }
    }
}
