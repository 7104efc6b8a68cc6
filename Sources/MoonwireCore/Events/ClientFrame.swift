/// An event frame sent by a client over a connection, validated for shape only.
///
/// The sender's `event_id`, `user_id` and `timestamp` are ignored: the hub assigns ids and time, and stamps
/// the identity established at connect time.
public struct ClientFrame: Sendable {
    public var type: EventType
    public var roomID: String?
    public var data: JSONValue
    /// Optional correlation value; when present the hub answers with an `ack` or an `error` carrying it.
    public var ref: JSONValue?

    public init(type: EventType, roomID: String?, data: JSONValue, ref: JSONValue? = nil) {
        self.type = type
        self.roomID = roomID
        self.data = data
        self.ref = ref
    }

    /// Parses and shape-checks a text frame.
    public static func parse(_ bytes: some Collection<UInt8>, parser: JSONParser) -> Result<ClientFrame, HubError> {
        let value: JSONValue
        do {
            value = try parser.parse(bytes)
        } catch {
            return .failure(HubError(.malformedFrame, "frame is not valid JSON: \(error)"))
        }
        guard case .object(let object) = value else {
            return .failure(HubError(.malformedFrame, "frame must be a JSON object, got \(value.typeName)"))
        }
        let ref = object["ref"].flatMap { $0.isNull ? nil : $0 }
        guard let typeValue = object["event_type"] else {
            return .failure(HubError(.missingField, "missing field 'event_type'", ref: ref))
        }
        guard case .string(let typeName) = typeValue else {
            return .failure(HubError(.invalidField, "'event_type' must be a string", ref: ref))
        }
        guard EventType.isValidName(typeName) else {
            return .failure(HubError(.unknownEventType, "unknown event type '\(typeName.prefix(64))'", ref: ref))
        }
        var roomID: String?
        switch object["room_id"] {
        case .none, .null?: roomID = nil
        case .string(let room)?: roomID = room.isEmpty ? nil : room
        case let other?: return .failure(HubError(.invalidField, "'room_id' must be a string, got \(other.typeName)", ref: ref))
        }
        let data = object["data"] ?? .object([:])
        return .success(ClientFrame(type: EventType(typeName), roomID: roomID, data: data, ref: ref))
    }
}
