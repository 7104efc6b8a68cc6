import MoonwireCore

/// One connection attempt over one transport, as `MoonwireClient` drives it: opened once, then used for
/// requests until it ends (`ended()`) or the client closes it. A new attempt gets a new instance.
///
/// Transports hand what they receive to the client (through `TransportContext`) in the order it arrived;
/// the client deduplicates by room position. They consume their own chatter (the welcome, pongs, answers
/// to requests) and trim the replay of a room joined without a position to `Options.replay` events.
protocol ClientTransport: Sendable {
    /// Connects, authenticates and joins (resuming rooms that have a position); returns the rooms now
    /// followed. Throws a `MoonwireError` (final ones mean: do not retry).
    func open() async throws -> [String]
    /// Waits until the open connection is lost, and says why. Also returns after `close()`.
    func ended() async -> MoonwireError
    /// Follows one more room (the client has added it to its rooms already).
    func join(_ room: String) async throws
    /// Stops following a room (the client has removed it from its rooms already).
    func leave(_ room: String) async throws
    /// Publishes; returns the id of the stored event, `nil` for an event that is not stored.
    func publish(room: String, type: String, data: JSONValue) async throws -> PublishedEvent
    /// The hub's presence answer for a room (`{"room_id", "users", "count"}`).
    func presence(_ room: String) async throws -> JSONValue
    /// Closes the connection; nothing more is delivered.
    func close() async
}

/// What a transport needs from its client: options, the rooms and positions, and where to deliver.
struct TransportContext: Sendable {
    let options: MoonwireClient.Options
    /// The long-poll session id (stable for the client's life).
    let clientID: String
    /// The connection attempt this transport belongs to; deliveries from older attempts are dropped.
    let generation: Int
    weak let client: MoonwireClient?

    /// HTTP to the hub, failing at once when it cannot be reached (the client retries with its own backoff).
    var http: HubHTTPClient { HubHTTPClient(baseURL: options.url, retryConnecting: false) }

    /// `Authorization: Bearer TOKEN` when there is a token.
    var authHeaders: [(String, String)] {
        options.token.map { [("Authorization", "Bearer \($0)")] } ?? []
    }

    /// `ws://HOST:PORT/ws` (or `wss://`) for the base URL.
    var webSocketURL: String {
        var url = options.url
        if url.hasPrefix("https://") {
            url = "wss://" + url.dropFirst("https://".count)
        } else if url.hasPrefix("http://") {
            url = "ws://" + url.dropFirst("http://".count)
        }
        return url + "/ws"
    }

    /// The rooms followed, in order, each with the position to resume from (`nil`: none yet).
    func rooms() async -> [(room: String, position: EventID?)] {
        await client?.resumePositions() ?? []
    }

    /// The position to resume `room` from.
    func position(_ room: String) async -> EventID? {
        await client?.resumePosition(room)
    }

    /// Hands one received event to the client.
    func deliver(_ event: Event) async {
        await client?.receive(event, generation: generation)
    }

    /// Tells the client that everything in `room` up to `id` has been delivered or deliberately skipped
    /// (the hub's head when the room was joined without a position, a long-poll's `last_message_id`).
    func reached(_ room: String, _ id: EventID) async {
        await client?.reached(room, id, generation: generation)
    }

    /// The hub's welcome: who the client is and its connection id.
    func welcomed(_ welcome: Event) async {
        await client?.welcomed(
            userID: welcome.data["user_id"]?.stringValue, connectionID: welcome.data["connection_id"]?.stringValue,
            generation: generation)
    }

    /// The hub's answer said who the client is (a long-poll's `user_id`).
    func identified(_ userID: String) async {
        await client?.welcomed(userID: userID, connectionID: nil, generation: generation)
    }

    /// The user id to name in `POST /publish` and `GET /presence`: the one the hub confirmed, else the option.
    func identity() async -> String? {
        await client?.identity ?? options.userID
    }

    /// The connection id from the welcome (so `POST /publish` is not echoed back to this stream).
    func connectionID() async -> String? {
        await client?.connectionID
    }
}

extension Event {
    /// Whether this is the hub's welcome `notification` (addressed to one connection, with its id).
    var isWelcome: Bool {
        type == .notification && roomID == nil && data["connection_id"]?.stringValue != nil
    }

    /// The position just before this event's time: every stored event created after it has a larger id.
    /// (Ids are publish times in microseconds, and the room's ids only go up.)
    var positionBefore: EventID {
        EventID(max(0, Int64((timestamp.seconds * 1_000_000).rounded(.down)) - 2))
    }
}

/// Keeps the last `count` stored events of a trimmed replay, and every ephemeral one, in order.
func trimReplay(_ events: [Event], keep count: Int) -> [Event] {
    let stored = events.filter(\.isStored).count
    var skip = max(0, stored - count)
    return events.filter { event in
        guard event.isStored, skip > 0 else { return true }
        skip -= 1
        return false
    }
}

/// `a=1&b=2`, values percent-encoded (`,` `:` `@` `/` kept, since cursors and room lists use them).
func queryString(_ items: [(String, String?)]) -> String {
    items.compactMap { name, value in
        guard let value, !value.isEmpty else { return nil }
        return name + "=" + percentEncoded(value)
    }.joined(separator: "&")
}

private func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ","), UInt8(ascii: ":"),
            UInt8(ascii: "@"), UInt8(ascii: "/"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = Array("0123456789ABCDEF".unicodeScalars)
            out.unicodeScalars.append("%")
            out.unicodeScalars.append(hex[Int(byte >> 4)])
            out.unicodeScalars.append(hex[Int(byte & 0x0F)])
        }
    }
    return out
}

/// What the hub answered to a publish: the id of a stored event, and the event as stored (after plugins).
struct PublishedEvent: Sendable {
    var id: EventID?
    var event: Event?
}
