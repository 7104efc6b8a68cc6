import Hummingbird
import MoonwireCore

/// The server API under `/api/`: publish, broadcast, rooms, presence, history, disconnect, stats.
/// Protected by the API key when one is configured.
struct APIEndpoints: Sendable {
    let hub: Hub
    let configuration: ServerConfiguration
    let apiKey: APIKeyCheck
    let stats: StatsReport

    func register(on router: Router<MoonwireRequestContext>) {
        let api = router.group("api")
        api.post("publish") { request, context in
            await respond { () throws(HubError) in try await publish(request) }
        }
        api.post("broadcast") { request, context in
            await respond { () throws(HubError) in try await broadcast(request) }
        }
        api.get("rooms") { request, context in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                return HTTPResponses.json(["rooms": .array(hub.rooms.map { .object(roomInfo($0)) })])
            }
        }
        api.get("rooms/:room") { request, context in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                return HTTPResponses.json(.object(roomInfo(try room(context))))
            }
        }
        api.get("rooms/:room/presence") { request, context in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                let room = try room(context)
                return HTTPResponses.json(.object(await hub.clusterPresenceData(room.id, page: try PresencePage(query: request))))
            }
        }
        api.get("rooms/:room/history") { request, context in
            await respond { () throws(HubError) in try await history(request, context: context) }
        }
        api.post("users/:user/disconnect") { request, context in
            await respond { () throws(HubError) in try await disconnect(request, context: context) }
        }
        api.get("stats") { request, context in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                return HTTPResponses.json(await stats.json())
            }
        }
    }

    private func room(_ context: MoonwireRequestContext) throws(HubError) -> Room {
        let id = context.pathParameter("room")
        guard let room = hub.room(id) else { throw HubError(.roomNotFound, "room '\(id.prefix(128))' does not exist") }
        return room
    }

    private func roomInfo(_ room: Room) -> JSONObject {
        [
            "room_id": .string(room.id),
            "users": .int(Int64(room.userCount)),
            "connections": .int(Int64(room.connectionCount)),
            "created_at": .double(room.createdAt.seconds),
        ]
    }

    /// `{room, event_type, data, user_id}` → the published event.
    private func publish(_ request: Request) async throws(HubError) -> Response {
        try apiKey.verify(request)
        var request = request
        let body = try await request.jsonObjectBody(limit: configuration.maxBodyBytes)
        guard let room = try body.room() else {
            throw HubError(.missingField, "missing field 'room'")
        }
        let event = try makeEvent(body, room: room)
        let published = try await hub.publish(
            event, from: PublisherInfo(connection: nil, transport: .http, userID: event.userID, trusted: apiKey.isTrusted(request)),
            requireKnownType: false)
        // Who was there to receive it live: the connections in the room, on every node (before the plugins'
        // delivery filters). Zero tells a backend that the user it wrote to will only find it in history.
        var reply: JSONObject = ["event": .object(published.wireObject)]
        do {
            reply["recipients"] = .int(Int64(try await hub.clusterPresence(of: room).reduce(0) { $0 + $1.connections }))
        } catch let error where error.code == .roomNotFound {
            reply["recipients"] = 0
        } catch {
            // Presence unreadable (Redis down): say nothing rather than "nobody".
        }
        return HTTPResponses.json(.object(reply))
    }

    /// `{rooms: [...], event_type, data, user_id}` → one result per room.
    private func broadcast(_ request: Request) async throws(HubError) -> Response {
        try apiKey.verify(request)
        var request = request
        let body = try await request.jsonObjectBody(limit: configuration.maxBodyBytes)
        guard let rooms = body["rooms"]?.arrayValue, !rooms.isEmpty, rooms.allSatisfy({ $0.stringValue != nil }) else {
            throw HubError(.missingField, "'rooms' must be a non-empty array of room ids")
        }
        let event = try makeEvent(body, room: nil)
        let results = await hub.broadcast(
            event, rooms: rooms.compactMap(\.stringValue),
            from: PublisherInfo(connection: nil, transport: .http, userID: event.userID, trusted: apiKey.isTrusted(request)))
        let items: [JSONValue] = zip(rooms.compactMap(\.stringValue), results).map { room, result in
            switch result {
            case .success(let published):
                return ["room_id": .string(room), "event_id": .string(published.wireID)]
            case .failure(let error):
                return ["room_id": .string(room), "error": ["code": .string(error.code.rawValue), "message": .string(error.message)]]
            }
        }
        return HTTPResponses.json(["results": .array(items)])
    }

    private func makeEvent(_ body: JSONObject, room: String?) throws(HubError) -> Event {
        let type = try body.string("event_type") ?? EventType.message.rawValue
        let user = try body.string("user_id") ?? Event.systemUser
        if let error = Identity.validateUserID(user) { throw error }
        return Event(type: EventType(type), userID: user, roomID: room, data: body["data"] ?? .object([:]))
    }

    /// `?since=ID&limit=N`: events after `since` (oldest first), `?before=ID`: the newest `limit` older than it, or the newest `limit`.
    private func history(_ request: Request, context: MoonwireRequestContext) async throws(HubError) -> Response {
        try apiKey.verify(request)
        let roomID = context.pathParameter("room")
        // A room this node does not hold may still have history in a shared broker (Redis).
        let known = hub.room(roomID) != nil
        var limit = configuration.hub.historySize
        if let text = request.query("limit") {
            guard let value = Int(text), value >= 0 else { throw HubError(.invalidField, "'limit' must be a non-negative integer") }
            limit = min(value, 10_000)
        }
        var historyRequest = HistoryRequest.latest(limit)
        var since: EventID?
        if let text = request.query("since"), !text.isEmpty {
            guard let id = EventID(text) else { throw HubError(.invalidField, "'since' must be an event id") }
            since = id
            historyRequest = .after(id, limit: limit)
        }
        if let text = request.query("before"), !text.isEmpty {
            guard since == nil else { throw HubError(.invalidField, "give 'since' or 'before', not both") }
            guard let id = EventID(text) else { throw HubError(.invalidField, "'before' must be an event id") }
            historyRequest = .before(id, limit: limit)
        }
        let page: HistoryPage
        do {
            page = try await hub.broker.history(room: roomID, historyRequest)
        } catch {
            throw HubError(.unavailable, "history unavailable: \(error)")
        }
        guard known || !page.events.isEmpty || page.oldestRetained != nil else {
            throw HubError(.roomNotFound, "room '\(roomID.prefix(128))' does not exist")
        }
        var body: JSONObject = [
            "room_id": .string(roomID),
            "events": .array(page.events.map { .object($0.wireObject) }),
            "last_event_id": .string(page.head.description),
            "has_more": .bool(page.hasMore),
            "gap": .bool(page.gap),
        ]
        body["oldest_retained_id"] = page.oldestRetained.map { .string($0.description) } ?? .null
        if let since { body["since"] = .string(since.description) }
        return HTTPResponses.json(.object(body))
    }

    /// `POST /api/users/:user/disconnect` with an optional `{reason}`.
    private func disconnect(_ request: Request, context: MoonwireRequestContext) async throws(HubError) -> Response {
        try apiKey.verify(request)
        var request = request
        let body = try await request.jsonObjectBody(limit: configuration.maxBodyBytes)
        let user = context.pathParameter("user")
        let reason = try body.string("reason") ?? "disconnected by the server"
        let count = await hub.disconnectUser(user, reason: .kicked(reason))
        return HTTPResponses.json(["user_id": .string(user), "disconnected": .int(Int64(count))])
    }
}
