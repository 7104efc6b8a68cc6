/// Presence answers, paged: a room's users sorted by id, at most `presencePageSize` of them and at most
/// half of `maxEventBytes` of JSON per answer, so that an answer always fits a connection's queue however
/// many users the room has and however much metadata they carry.
extension Hub {
    /// This node's presence of `room`, one page (`clusterPresenceData` covers every node).
    public func presenceData(_ room: String, page: PresencePage = PresencePage()) -> JSONObject {
        presenceAnswer(room: room, entries: (try? presence(of: room)) ?? [], page: page)
    }

    /// `{room_id, users: [{user_id, connections, transports, metadata}], count, truncated, next}` for
    /// `entries` (sorted by user id): `count` is every user, `truncated` tells that more follow and
    /// `next` is the `after` of the next page.
    func presenceAnswer(room: String, entries: [PresenceEntry], page: PresencePage) -> JSONObject {
        let limit = min(max(1, page.limit ?? configuration.presencePageSize), max(1, configuration.presencePageSize))
        let budget = max(4096, configuration.maxEventBytes / 2)
        var index = page.after.map { after in entries.partitioningIndex { $0.userID > after } } ?? 0
        var users: [JSONValue] = []
        var bytes = 128
        while index < entries.count, users.count < limit {
            let entry = entries[index]
            let user: JSONValue = [
                "user_id": .string(entry.userID),
                "connections": .int(Int64(entry.connections)),
                "transports": .array(entry.transports.map { .string($0) }),
                "metadata": .object(entry.metadata),
            ]
            let size = user.approximateByteCount
            if !users.isEmpty, bytes + size > budget { break }
            users.append(user)
            bytes += size
            index += 1
        }
        let truncated = index < entries.count
        var answer: JSONObject = [
            "room_id": .string(room),
            "users": .array(users),
            "count": .int(Int64(entries.count)),
            "truncated": .bool(truncated),
        ]
        answer["next"] = truncated ? users.last?["user_id"] ?? .null : .null
        return answer
    }
}
