/// The names Moonwire uses in Redis, all under one prefix (`moonwire` by default) so that several hubs
/// can share a server.
///
/// - `P:epoch`: when this Redis first saw a hub (microseconds); ids below it are from an earlier life.
/// - `P:room:R:stream`: room R's history, a stream whose entry ids are the event ids (`ID-0`).
/// - `P:room:R:meta`: hash with `head` (newest id) and `trimmed` (newest id no longer retained).
/// - `P:room:R`: the pub/sub channel of room R.
/// - `P:presence:expiry`: sorted set of `room\nuser\nnode` by expiry (milliseconds).
/// - `P:presence:room:R`: hash `user\nnode` → what that node holds of the user (JSON).
/// - `P:presence:users:R`: hash user → number of nodes holding the user in R.
/// - `P:presence:node:N`: set of `room\nuser` that node N holds.
/// - `P:store:PLUGIN:KEY`: a plugin's `hub.store` value (JSON).
public struct RedisKeys: Sendable {
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    public var epoch: String { "\(prefix):epoch" }
    public func stream(_ room: String) -> String { "\(prefix):room:\(room):stream" }
    public func meta(_ room: String) -> String { "\(prefix):room:\(room):meta" }
    public func channel(_ room: String) -> String { "\(prefix):room:\(room)" }

    /// The room of a channel name, if it is one of ours.
    public func room(ofChannel channel: String) -> String? {
        let head = "\(prefix):room:"
        guard channel.hasPrefix(head) else { return nil }
        return String(channel.dropFirst(head.count))
    }

    public var presenceExpiry: String { "\(prefix):presence:expiry" }
    /// What scripts append a room or node name to.
    public var presenceRoomPrefix: String { "\(prefix):presence:room:" }
    public var presenceUsersPrefix: String { "\(prefix):presence:users:" }
    public var presenceNodePrefix: String { "\(prefix):presence:node:" }
    public func presenceRoom(_ room: String) -> String { presenceRoomPrefix + room }
    public func presenceUsers(_ room: String) -> String { presenceUsersPrefix + room }
    public func presenceNode(_ node: String) -> String { presenceNodePrefix + node }

    public func store(_ plugin: String, _ key: String) -> String { "\(prefix):store:\(plugin):\(key)" }
    public func storePattern(_ plugin: String) -> String { "\(prefix):store:\(Self.escapeGlob(plugin)):*" }
    public func storeKeyPrefix(_ plugin: String) -> String { "\(prefix):store:\(plugin):" }

    /// `text` with the glob characters of SCAN MATCH escaped.
    static func escapeGlob(_ text: String) -> String {
        var out = ""
        for character in text {
            if "*?[]\\".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
