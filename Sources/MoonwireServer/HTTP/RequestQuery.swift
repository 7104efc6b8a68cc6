import Hummingbird
import HummingbirdCore

/// A request's query string, parsed once: the values by name (the last of a repeated name) and the rooms
/// named by `rooms=a,b` and/or `room=a&room=b`. Long-polls parse one per request, so it is worth keeping.
struct RequestQuery: Sendable {
    /// Every parameter, percent-decoded (the last value of a repeated one), as plugins see the query.
    let values: [String: String]
    /// The first value of each parameter, as `subscript` reads it.
    private let firstValues: [String: String]
    /// The rooms named, deduplicated in order; `nil` when none is.
    let rooms: [String]?

    init(_ request: Request) {
        self.init(uri: request.uri)
    }

    /// The query of a request target (`/poll?rooms=a,b&…`).
    init(uri: URI) {
        var values: [String: String] = [:]
        var firstValues: [String: String] = [:]
        var rooms: [String] = []
        var seen = Set<String>()
        func addRoom(_ room: String) {
            if !room.isEmpty, seen.insert(room).inserted { rooms.append(room) }
        }
        // Named `rooms` first (each name trimmed), then `room` (as given), as clients have always been answered.
        let parameters = uri.queryParameters
        for (key, value) in parameters {
            let name = String(key)
            let text = String(value)
            values[name] = text
            if firstValues[name] == nil { firstValues[name] = text }
            if key == "rooms" { value.split(separator: ",").forEach { addRoom(String($0).trimming(" ")) } }
        }
        for (key, value) in parameters where key == "room" { addRoom(String(value)) }
        self.values = values
        self.firstValues = firstValues
        self.rooms = rooms.isEmpty ? nil : rooms
    }

    /// A parameter (the first value of a repeated one); `nil` when absent.
    subscript(_ name: String) -> String? { firstValues[name] }

    /// A bearer token from `Authorization`, else the `token` parameter.
    func bearerToken(_ request: Request) -> String? {
        request.authorizationBearer ?? firstValues["token"]
    }

    /// A bearer token from an `Authorization` header's value, else the `token` parameter.
    func bearerToken(authorization: String?) -> String? {
        Request.bearer(fromAuthorization: authorization) ?? firstValues["token"]
    }
}
