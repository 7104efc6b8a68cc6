import Hummingbird

/// A request's query string, parsed once: the values by name (the last of a repeated name) and the rooms
/// named by `rooms=a,b` and/or `room=a&room=b`. Long-polls parse one per request, so it is worth keeping.
struct RequestQuery: Sendable {
    /// Every parameter, percent-decoded (the last value of a repeated one), as plugins see the query.
    let values: [String: String]
    /// Every parameter in order, values percent-decoded (names are taken as they are).
    private let pairs: [(name: String, value: String)]
    /// The rooms named, deduplicated in order; `nil` when none is.
    let rooms: [String]?

    init(_ request: Request) {
        self.init(target: request.uri.string)
    }

    /// The query of a request target (`/poll?rooms=a,b&…`): the part after `?` and before `#`, split at
    /// `&`, each at its first `=`. A value with a broken `%` escape is taken as it is.
    init(target: String) {
        var pairs: [(name: String, value: String)] = []
        let utf8 = target.utf8
        if let question = utf8.firstIndex(of: UInt8(ascii: "?")) {
            let end = utf8[question...].firstIndex(of: UInt8(ascii: "#")) ?? utf8.endIndex
            var start = utf8.index(after: question)
            while start < end {
                let ampersand = utf8[start..<end].firstIndex(of: UInt8(ascii: "&")) ?? end
                if start < ampersand {
                    let part = target[start..<ampersand]
                    if let equals = part.utf8.firstIndex(of: UInt8(ascii: "=")) {
                        pairs.append((String(part[..<equals]), Self.decoded(part[part.utf8.index(after: equals)...])))
                    } else {
                        pairs.append((String(part), ""))
                    }
                }
                start = ampersand < end ? utf8.index(after: ampersand) : end
            }
        }
        var values: [String: String] = [:]
        var rooms: [String] = []
        var seen = Set<String>()
        func addRoom(_ room: String) {
            if !room.isEmpty, seen.insert(room).inserted { rooms.append(room) }
        }
        // Named `rooms` first (each name trimmed), then `room` (as given), as clients have always been answered.
        for (name, value) in pairs {
            values[name] = value
            if name == "rooms" { value.split(separator: ",").forEach { addRoom(String($0).trimming(" ")) } }
        }
        for (name, value) in pairs where name == "room" { addRoom(value) }
        self.values = values
        self.pairs = pairs
        self.rooms = rooms.isEmpty ? nil : rooms
    }

    /// `text` with its `%XX` escapes decoded; as it is when an escape is broken.
    private static func decoded(_ text: Substring) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return String(text)
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A parameter (the first value of a repeated one); `nil` when absent.
    subscript(_ name: String) -> String? { pairs.first { $0.name == name }?.value }

    /// A bearer token from `Authorization`, else the `token` parameter.
    func bearerToken(_ request: Request) -> String? {
        bearerToken(authorization: request.headers[.authorization])
    }

    /// A bearer token from an `Authorization` header's value, else the `token` parameter.
    func bearerToken(authorization: String?) -> String? {
        Request.bearer(fromAuthorization: authorization) ?? self["token"]
    }
}
