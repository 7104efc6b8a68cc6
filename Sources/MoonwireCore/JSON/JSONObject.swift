/// A JSON object that keeps its members in insertion order; a later `set` of a key replaces its value in place.
///
/// Reading and writing a key cost O(1) amortised at any size: small objects are scanned, and an object
/// that passes `indexThreshold` members keeps a dictionary from key to position. Removing a key costs
/// O(members).
public struct JSONObject: Sendable, Hashable, Sequence {
    /// The members in order.
    public private(set) var members: [(key: String, value: JSONValue)]
    /// Where each key sits in `members`, once there are `indexThreshold` members or more.
    private var positions: [String: Int]?

    /// Objects with fewer members than this are scanned: building a dictionary costs more than it saves.
    static let indexThreshold = 12

    public init() {
        self.members = []
        self.positions = nil
    }

    public init(_ pairs: [(String, JSONValue)]) {
        self.init()
        members.reserveCapacity(pairs.count)
        for (key, value) in pairs { self[key] = value }
    }

    /// Number of members.
    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    /// The value for `key`, or `nil`. Setting `nil` removes the key.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let position = position(of: key) else { return nil }
            return members[position].value
        }
        set {
            if let position = position(of: key) {
                if let newValue {
                    members[position].value = newValue
                } else {
                    remove(at: position)
                }
            } else if let newValue {
                append(key, newValue)
            }
        }
    }

    /// Where `key` sits in `members`.
    private func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        return members.firstIndex { $0.key == key }
    }

    /// Appends a member whose key is not present yet.
    private mutating func append(_ key: String, _ value: JSONValue) {
        members.append((key, value))
        if positions != nil {
            positions![key] = members.count - 1
        } else if members.count >= Self.indexThreshold {
            var built: [String: Int] = [:]
            built.reserveCapacity(members.count * 2)
            for (position, member) in members.enumerated() { built[member.key] = position }
            positions = built
        }
    }

    private mutating func remove(at position: Int) {
        let removed = members.remove(at: position)
        guard positions != nil else { return }
        positions![removed.key] = nil
        if members.count < Self.indexThreshold {
            positions = nil
            return
        }
        for index in position..<members.count { positions![members[index].key] = index }
    }

    /// Adds a member read by the parser: a key seen before in the same object keeps its first position and
    /// takes the later value (the last one wins, as in most JSON parsers); no key is ever stored twice.
    mutating func appendParsed(_ key: String, _ value: JSONValue) {
        self[key] = value
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        members.makeIterator()
    }

    /// Same keys with equal values, in any order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for member in lhs.members where rhs[member.key] != member.value { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        var combined = 0
        for member in members {
            var h = Hasher()
            h.combine(member.key)
            h.combine(member.value)
            combined ^= h.finalize()
        }
        hasher.combine(combined)
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }
}
