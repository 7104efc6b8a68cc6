/// The joins and leaves of a large room between two `presence_diff` events, netted per user: a user who
/// joins and leaves within one interval (or leaves and comes back) is not mentioned at all.
struct PresenceDiff {
    /// Each user whose presence changed: true when they joined, false when they left.
    private var changes: [String: Bool] = [:]

    var isEmpty: Bool { changes.isEmpty }

    mutating func record(_ user: String, joined: Bool) {
        if let earlier = changes[user] {
            if earlier != joined { changes.removeValue(forKey: user) }
        } else {
            changes[user] = joined
        }
    }

    /// The `data` of the `presence_diff` event: at most `listed` user ids per list (sorted), the full
    /// counts, and the room's user count now.
    func data(room: String, users: Int, listed: Int) -> JSONObject {
        var joins: [String] = []
        var leaves: [String] = []
        for (user, joined) in changes {
            if joined { joins.append(user) } else { leaves.append(user) }
        }
        let cap = max(0, listed)
        let truncated = joins.count > cap || leaves.count > cap
        return [
            "room_id": .string(room),
            "joins": .array(joins.sorted().prefix(cap).map { .string($0) }),
            "leaves": .array(leaves.sorted().prefix(cap).map { .string($0) }),
            "joined": .int(Int64(joins.count)),
            "left": .int(Int64(leaves.count)),
            "count": .int(Int64(users)),
            "truncated": .bool(truncated),
        ]
    }
}
