/// The type of an event. The set is open: plugins and server-side publishers add their own.
public struct EventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    /// A chat message in a room.
    public static let message: EventType = "message"
    /// A user joined a room (sent by clients to join).
    public static let userJoined: EventType = "user_joined"
    /// A user left a room (sent by clients to leave).
    public static let userLeft: EventType = "user_left"
    /// A typing indicator; never stored.
    public static let typing: EventType = "typing"
    /// A notice from the hub or a server-side publisher.
    public static let notification: EventType = "notification"
    /// Ping from a client, answered with `data.pong = true`.
    public static let heartbeat: EventType = "heartbeat"
    /// The hub's answer to a bad frame or a refused request.
    public static let error: EventType = "error"
    /// Tells a resuming client that events it asked for are no longer retained.
    public static let gap: EventType = "gap"
    /// Confirms a client frame that carried a `ref`.
    public static let ack: EventType = "ack"
    /// A request for a room's presence (client → hub), and its answer (hub → that client only).
    public static let presence: EventType = "presence"

    /// The joins and leaves of a large room over the last interval, in one event (hub → clients).
    public static let presenceDiff: EventType = "presence_diff"

    /// Types that only the hub itself emits; nobody may publish them.
    public static let hubOnly: Set<EventType> = [.userJoined, .userLeft, .heartbeat, .error, .gap, .ack, .presence, .presenceDiff]

    /// Whether `name` is a well-formed type name: a letter, then up to 63 letters, digits, `_`, `-`, `.` or `:`.
    public static func isValidName(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard let first = utf8.first, utf8.count <= 64 else { return false }
        guard (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) else {
            return false
        }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"):
                return true
            default:
                return false
            }
        }
    }
}
