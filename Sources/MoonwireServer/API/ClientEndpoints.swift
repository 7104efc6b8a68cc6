import Hummingbird
import MoonwireCore

/// Endpoints for clients that are not on a WebSocket (SSE and long-poll clients): `POST /publish` sends an
/// event, `GET /presence?room=R` lists who is in a room, `GET /history?room=R&before=ID` pages back through its history, `GET /whoami` tells who the hub takes the client for. Clients authenticate as on a connection (token or
/// claimed user id, through the auth hooks) and must be present in the room (a stream or poll session of
/// theirs follows it). Not gated by the API key: the hooks decide.
struct ClientEndpoints: Sendable {
    let hub: Hub
    let configuration: ServerConfiguration

    func register(on router: Router<MoonwireRequestContext>) {
        router.post("/publish") { request, context in
            await respond { () throws(HubError) in try await publish(request, context: context) }
        }
        router.get("/whoami") { request, context in
            await respond { () throws(HubError) in
                let identity = try await authenticate(request, claimed: request.query("user_id"), context: context)
                return HTTPResponses.json([
                    "user_id": .string(identity.userID),
                    "roles": .array(identity.roles.map { .string($0) }),
                    "metadata": .object(identity.metadata),
                ])
            }
        }
        router.get("/history") { request, context in
            await respond { () throws(HubError) in
                let identity = try await authenticate(request, claimed: request.query("user_id"), context: context)
                guard let room = request.query("room") ?? request.query("room_id") else {
                    throw HubError(.missingField, "missing query parameter 'room'")
                }
                var before: EventID?
                if let text = request.query("before"), !text.isEmpty {
                    guard let id = EventID(text) else { throw HubError(.invalidField, "'before' must be an event id") }
                    before = id
                }
                var limit = 50
                if let text = request.query("limit") {
                    guard let value = Int(text), value >= 0 else { throw HubError(.invalidField, "'limit' must be a non-negative integer") }
                    limit = value
                }
                let page = try await hub.history(for: identity, room: room, before: before, limit: limit, remoteAddress: context.remoteAddress)
                return HTTPResponses.json([
                    "room_id": .string(room),
                    "events": .array(page.events.map { .object($0.wireObject) }),
                    "has_more": .bool(page.hasMore),
                    "next_before": page.nextBefore.map { .string($0.description) } ?? .null,
                ])
            }
        }
        router.get("/presence") { request, context in
            await respond { () throws(HubError) in
                let identity = try await authenticate(request, claimed: request.query("user_id"), context: context)
                guard let room = request.query("room") ?? request.query("room_id") else {
                    throw HubError(.missingField, "missing query parameter 'room'")
                }
                let page = try PresencePage(query: request)
                guard await hub.isPresentOnAnyNode(identity.userID, in: room) else {
                    throw HubError(.notInRoom, "join room '\(room)' (open a stream or poll it) to see who is there")
                }
                return HTTPResponses.json(.object(await hub.clusterPresenceData(room, page: page)))
            }
        }
    }

    private func authenticate(_ request: Request, claimed: String?, context: MoonwireRequestContext) async throws(HubError) -> Identity {
        try await hub.authenticate(
            ConnectRequest(
                transport: .http, remoteAddress: context.remoteAddress, headers: request.headerDictionary,
                query: request.queryDictionary, claimedUserID: claimed, token: request.bearerToken)
        ).get()
    }

    /// `{room, event_type, data, user_id?, connection_id?}` → `{"status": "sent", "event_id", "stored"}`.
    private func publish(_ request: Request, context: MoonwireRequestContext) async throws(HubError) -> Response {
        var request = request
        let body = try await request.jsonObjectBody(limit: configuration.maxBodyBytes)
        let identity = try await authenticate(request, claimed: try body.string("user_id") ?? request.query("user_id"), context: context)
        guard let room = try body.room() else { throw HubError(.missingField, "missing field 'room'") }
        if let error = RoomName.validate(room) { throw error }
        let type = try body.string("event_type") ?? EventType.message.rawValue
        if type == EventType.notification.rawValue {
            throw HubError(.notAllowed, "clients may not send 'notification'; publish it through the server API")
        }
        guard await hub.isPresentOnAnyNode(identity.userID, in: room) else {
            throw HubError(.notInRoom, "join room '\(room)' (open a stream or poll it) before sending to it")
        }
        var event = Event(type: EventType(type), userID: identity.userID, roomID: room, data: body["data"] ?? .object([:]))
        var connectionInfo: ConnectionInfo?
        if let id = try body.string("connection_id"), let connection = hub.connection(id), connection.userID == identity.userID {
            connectionInfo = ConnectionInfo(connection)
            event.origin = connection.id
        }
        var publisher = PublisherInfo(connection: connectionInfo, transport: connectionInfo?.transport ?? .http, userID: identity.userID)
        publisher.identity = identity
        let published = try await hub.publishFromClient(event, from: publisher)
        var reply: JSONObject = ["status": "sent", "room_id": .string(room), "stored": .bool(published.isStored)]
        reply["event_id"] = published.id.map { .string($0.description) } ?? .null
        if published.isStored { reply["event"] = .object(published.wireObject) }
        if let ref = body["ref"] { reply["ref"] = ref }
        return HTTPResponses.json(.object(reply))
    }
}
