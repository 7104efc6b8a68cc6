import MoonwireClient
import MoonwireCore

/// A WebSocket connection under test: sends frames and waits for matching events.
struct WebSocketProbe: Sendable {
    let session: WebSocketSession
    let inbox: Inbox<JSONValue>

    init(_ session: WebSocketSession) {
        self.session = session
        self.inbox = Inbox(session.frames)
    }

    func send(_ frame: JSONValue) async throws { try await session.send(frame) }
    func sendText(_ text: String) async throws { try await session.sendText(text) }

    /// The next event of `type` (and matching `predicate`), removing it and leaving others queued.
    @discardableResult
    func next(type: String, timeout: Duration = .seconds(5), where predicate: @Sendable @escaping (JSONValue) -> Bool = { _ in true })
        async throws -> JSONValue
    {
        try await inbox.next(timeout: timeout, "'\(type)' event") { $0["event_type"]?.stringValue == type && predicate($0) }
    }

    /// Events of `type` that arrive within `duration`.
    func collect(type: String, for duration: Duration) async throws -> [JSONValue] {
        try await inbox.collect(for: duration) { $0["event_type"]?.stringValue == type }
    }

    /// Sends a chat message to `room`.
    func say(_ text: String, in room: String = "general", ref: JSONValue? = nil) async throws {
        var frame: JSONObject = ["event_type": "message", "room_id": .string(room), "data": ["message": .string(text)]]
        if let ref { frame["ref"] = ref }
        try await send(.object(frame))
    }

    /// Joins `room`, optionally resuming after `since`; waits for the ack.
    func join(_ room: String, since: String? = nil) async throws {
        var data: JSONObject = ["room_id": .string(room)]
        if let since { data["since"] = .string(since) }
        let ref = JSONValue.string("join-\(room)-\(RandomID.token(length: 6))")
        try await send(["event_type": "user_joined", "data": .object(data), "ref": ref])
        let reply = try await inbox.next(timeout: .seconds(5), "ack of join \(room)") {
            ($0["event_type"]?.stringValue == "ack" || $0["event_type"]?.stringValue == "error") && $0["data"]?["ref"] == ref
        }
        if reply["event_type"]?.stringValue == "error" {
            throw ProbeError.unexpected("join \(room) failed: \(reply)")
        }
    }

    func close() async { await session.close() }
}

/// An SSE stream under test.
struct SSEProbe: Sendable {
    let stream: SSEStream
    let inbox: Inbox<SSEMessage>

    init(_ stream: SSEStream) {
        self.stream = stream
        self.inbox = Inbox(stream.messages)
    }

    /// The next message with `event:` = `event` (and matching `predicate`).
    @discardableResult
    func next(event: String, timeout: Duration = .seconds(5), where predicate: @Sendable @escaping (SSEMessage) -> Bool = { _ in true })
        async throws -> SSEMessage
    {
        try await inbox.next(timeout: timeout, "SSE '\(event)'") { $0.event == event && predicate($0) }
    }

    func close() { stream.close() }
}

extension JSONValue {
    /// `data.message` of a chat event.
    var chatText: String? { self["data"]?["message"]?.stringValue }
}
