import MoonwireCore

/// The first frame of a WebSocket connection: `{"user_id": ..., "metadata": {...}, "token": ...}`,
/// optionally with the rooms to join (`rooms`) and where to resume them (`since`).
struct AuthFrame {
    var userID: String?
    var metadata: JSONObject = [:]
    var token: String?
    /// Rooms to join on connect instead of the auto-join room.
    var rooms: [String]?
    /// Positions to resume from: `{"room": "id"}` or a cursor string.
    var since: Cursor?

    static func parse(_ bytes: [UInt8], parser: JSONParser) -> Result<AuthFrame, HubError> {
        let value: JSONValue
        do {
            value = try parser.parse(bytes)
        } catch {
            return .failure(HubError(.malformedFrame, "auth frame is not valid JSON: \(error)"))
        }
        guard let object = value.objectValue else {
            return .failure(HubError(.malformedFrame, "auth frame must be a JSON object"))
        }
        var frame = AuthFrame()
        switch object["user_id"] {
        case .string(let id)?: frame.userID = id.isEmpty ? nil : id
        case .int(let id)?: frame.userID = String(id)
        case .none, .null?: frame.userID = nil
        case let other?: return .failure(HubError(.invalidField, "'user_id' must be a string, got \(other.typeName)"))
        }
        switch object["metadata"] {
        case .object(let metadata)?: frame.metadata = metadata
        case .none, .null?: break
        case let other?: return .failure(HubError(.invalidField, "'metadata' must be an object, got \(other.typeName)"))
        }
        frame.token = object["token"]?.stringValue
        if let rooms = object["rooms"], !rooms.isNull {
            guard let list = rooms.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                return .failure(HubError(.invalidField, "'rooms' must be an array of room ids"))
            }
            frame.rooms = list.compactMap(\.stringValue)
        }
        switch object["since"] {
        case .string(let text)?:
            guard let cursor = Cursor(parsing: text) else {
                return .failure(HubError(.invalidField, "'since' is not a cursor"))
            }
            frame.since = cursor
        case .object(let positions)?:
            var cursor = Cursor()
            for (room, id) in positions {
                guard let text = id.stringValue ?? id.intValue.map(String.init), let eventID = EventID(text) else {
                    return .failure(HubError(.invalidField, "'since.\(room)' must be an event id"))
                }
                cursor.set(room, eventID)
            }
            frame.since = cursor
        case .none, .null?: break
        case let other?: return .failure(HubError(.invalidField, "'since' must be an object or a cursor string, got \(other.typeName)"))
        }
        return .success(frame)
    }
}
