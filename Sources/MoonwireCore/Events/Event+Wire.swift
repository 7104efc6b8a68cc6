extension Event {
    /// The event as the wire JSON object, keys in the seed's order.
    public var wireObject: JSONObject {
        [
            "event_id": .string(wireID),
            "event_type": .string(type.rawValue),
            "user_id": .string(userID),
            "room_id": roomID.map { .string($0) } ?? .null,
            "data": data,
            "timestamp": .double(timestamp.seconds),
        ]
    }

    /// Appends the wire JSON of the event to `out` without building an intermediate tree.
    public func writeJSON(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"event_id":"#.utf8)
        JSONWriter.writeString(wireID, into: &out)
        out.append(contentsOf: #","event_type":"#.utf8)
        JSONWriter.writeString(type.rawValue, into: &out)
        out.append(contentsOf: #","user_id":"#.utf8)
        JSONWriter.writeString(userID, into: &out)
        out.append(contentsOf: #","room_id":"#.utf8)
        if let roomID { JSONWriter.writeString(roomID, into: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","data":"#.utf8)
        JSONWriter.write(data, into: &out)
        out.append(contentsOf: #","timestamp":"#.utf8)
        JSONWriter.writeDouble(timestamp.seconds, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// The wire JSON of the event.
    public var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160)
        writeJSON(into: &out)
        return out
    }

    /// The event as a long-poll message: the seed's `message_id`, `type`, `content`, `sender`, `timestamp`,
    /// followed by the event's own fields.
    public var pollMessage: JSONObject {
        var object: JSONObject = [
            "message_id": .string(wireID),
            "type": .string(type.rawValue),
            "content": pollContent,
            "sender": .string(userID),
            "timestamp": .double(timestamp.seconds),
        ]
        for member in wireObject where member.key != "timestamp" {
            object[member.key] = member.value
        }
        return object
    }

    /// What the seed's `content` field holds: `data.content`, else `data.message`, else the whole `data`.
    var pollContent: JSONValue {
        if let content = data["content"] { return content }
        if let message = data["message"] { return message }
        return data
    }
}
