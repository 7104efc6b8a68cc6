/// The server-assigned id of a stored event: it orders the event within its room.
///
/// Ids are the publish time in microseconds since 1970, bumped by one where needed so that each
/// room's ids strictly increase. They stay ordered across restarts, and below 2^53 so JavaScript
/// reads them exactly. On the wire they are decimal strings.
public struct EventID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: Int64

    public init(_ value: Int64) { self.value = value }

    /// Parses a decimal id; `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let value = Int64(text)
        else { return nil }
        self.value = value
    }

    public var description: String { String(value) }

    /// The id for "nothing yet": below every real id.
    public static let zero = EventID(0)

    public static func < (lhs: EventID, rhs: EventID) -> Bool { lhs.value < rhs.value }

    /// The id a room would give an event published now, ignoring its previous ids.
    public static func now() -> EventID {
        EventID(Timestamp.nowMicroseconds())
    }

    /// The next id after `previous`: the current time, or `previous + 1` if the clock has not moved past it.
    public static func next(after previous: EventID) -> EventID {
        let candidate = now()
        return candidate > previous ? candidate : EventID(previous.value + 1)
    }
}
