/// A client's position in one or several rooms: what SSE sends as `id:` and long-poll as `last_message_id`.
///
/// One room: the plain event id (`1764421200123456`). Several rooms: `room:id` pairs joined by commas
/// (`general:1764421200123456,news:1764421200999999`). A plain id given for several rooms applies to each
/// of them: ids are publish times, so it means "everything after this moment".
public struct Cursor: Sendable, Equatable, CustomStringConvertible {
    /// Positions by room, in the order given.
    public private(set) var positions: [(room: String, id: EventID)]
    /// A plain id that applies to every room not named in `positions`.
    public var fallback: EventID?

    public init(positions: [(room: String, id: EventID)] = [], fallback: EventID? = nil) {
        self.positions = []
        self.fallback = fallback
        for (room, id) in positions { set(room, id) }
    }

    /// Parses a cursor; `nil` for an empty or malformed one.
    public init?(parsing text: String) {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { return nil }
        if let id = EventID(trimmed) {
            self.init(fallback: id)
            return
        }
        var positions: [(room: String, id: EventID)] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: true) {
            guard let colon = part.lastIndex(of: ":") else { return nil }
            let room = String(part[part.startIndex..<colon])
            guard RoomName.validate(room) == nil, let id = EventID(part[part.index(after: colon)...]) else { return nil }
            positions.append((room, id))
        }
        guard !positions.isEmpty else { return nil }
        self.init(positions: positions)
    }

    /// The position for `room`: its own entry, else the fallback.
    public func position(for room: String) -> EventID? {
        for entry in positions where entry.room == room { return entry.id }
        return fallback
    }

    /// Sets the position of `room`, keeping the order of existing entries.
    public mutating func set(_ room: String, _ id: EventID) {
        if let index = positions.firstIndex(where: { $0.room == room }) {
            positions[index].id = id
        } else {
            positions.append((room, id))
        }
    }

    /// The text form for a stream over `rooms`: a plain id for one room, `room:id` pairs otherwise.
    public func encoded(for rooms: [String]) -> String {
        if rooms.count == 1 {
            return position(for: rooms[0])?.description ?? ""
        }
        return rooms.compactMap { room in position(for: room).map { "\(room):\($0)" } }.joined(separator: ",")
    }

    public var description: String {
        var parts = positions.map { "\($0.room):\($0.id)" }
        if let fallback { parts.append("*:\(fallback)") }
        return parts.joined(separator: ",")
    }

    public static func == (lhs: Cursor, rhs: Cursor) -> Bool {
        lhs.fallback == rhs.fallback && lhs.positions.count == rhs.positions.count
            && zip(lhs.positions, rhs.positions).allSatisfy { $0.room == $1.room && $0.id == $1.id }
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
