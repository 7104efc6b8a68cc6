/// How brokers write events down (Redis streams and pub/sub messages, SQLite rows): a compact JSON object
/// without the id, which the history position carries.
///
/// `{"t":"message","u":"ann","r":"general","d":{...},"s":1764421200.123456,"o":"conn","e":"uuid"}`:
/// type, user, room, data, timestamp (seconds), origin connection (not echoed there) and, for an
/// ephemeral event, its wire id, so that every node sends it with the same `event_id`; `"h"`, the plugin
/// hop count, when it is not 0.
public enum EventCodec {
    /// The stored form of `event`.
    public static func encode(_ event: Event) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        out.append(contentsOf: #"{"t":"#.utf8)
        JSONWriter.writeString(event.type.rawValue, into: &out)
        out.append(contentsOf: #","u":"#.utf8)
        JSONWriter.writeString(event.userID, into: &out)
        if let room = event.roomID {
            out.append(contentsOf: #","r":"#.utf8)
            JSONWriter.writeString(room, into: &out)
        }
        out.append(contentsOf: #","d":"#.utf8)
        JSONWriter.write(event.data, into: &out)
        out.append(contentsOf: #","s":"#.utf8)
        // `description` round-trips a Double exactly.
        out.append(contentsOf: (event.timestamp.seconds.isFinite ? event.timestamp.seconds : 0).description.utf8)
        if let origin = event.origin {
            out.append(contentsOf: #","o":"#.utf8)
            JSONWriter.writeString(origin, into: &out)
        }
        if event.pluginHops > 0 {
            out.append(contentsOf: #","h":"#.utf8)
            out.append(contentsOf: String(event.pluginHops).utf8)
        }
        if event.id == nil {
            out.append(contentsOf: #","e":"#.utf8)
            JSONWriter.writeString(event.ephemeralID, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The stored form as a string (Redis arguments).
    public static func encodeString(_ event: Event) -> String {
        String(decoding: encode(event), as: UTF8.self)
    }

    /// Reads an event back; `id` is its history position (`nil` for an ephemeral event). `nil` when the
    /// bytes are not an event.
    public static func decode(_ bytes: some Collection<UInt8>, id: EventID?) -> Event? {
        guard case .object(let object)? = try? JSONParser(maxDepth: 128).parse(bytes),
            let type = object["t"]?.stringValue, let user = object["u"]?.stringValue
        else { return nil }
        let seconds = object["s"]?.doubleValue ?? 0
        var event = Event(
            type: EventType(type), userID: user, roomID: object["r"]?.stringValue, data: object["d"] ?? .object([:]),
            id: id, timestamp: Timestamp(seconds: seconds))
        event.origin = object["o"]?.stringValue
        event.pluginHops = Int(clamping: max(0, object["h"]?.intValue ?? 0))
        if id == nil, let ephemeral = object["e"]?.stringValue { event.ephemeralID = ephemeral }
        return event
    }
}
