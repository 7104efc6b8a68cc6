import Hummingbird
import MoonwireCore

/// The seed's publishing endpoints: `POST /trigger` (SSE server) and `POST /message` (long-poll server).
/// Both publish to a room (default `general`) and reach every transport.
struct PublishEndpoints: Sendable {
    let hub: Hub
    let configuration: ServerConfiguration
    let apiKey: APIKeyCheck

    func register(on router: Router<MoonwireRequestContext>) {
        router.post("/trigger") { request, context in
            await respond { () throws(HubError) in try await trigger(request, context: context) }
        }
        router.post("/message") { request, context in
            await respond { () throws(HubError) in try await message(request, context: context) }
        }
    }

    /// `{event_type, data, room}` → `{"status": "sent", "event_id": ...}`.
    private func trigger(_ request: Request, context: MoonwireRequestContext) async throws(HubError) -> Response {
        try apiKey.verify(request)
        var request = request
        let body = try await request.jsonObjectBody(limit: configuration.maxBodyBytes)
        let type = try body.string("event_type") ?? EventType.message.rawValue
        let room = try body.room() ?? hub.defaultRoom
        let user = try await publisher(request, claimed: try body.string("user_id"), trustedDefault: Event.systemUser, context: context)
        let event = Event(type: EventType(type), userID: user, roomID: room, data: body["data"] ?? .object([:]))
        let published = try await hub.publish(
            event, from: PublisherInfo(connection: nil, transport: .http, userID: user, trusted: apiKey.isTrusted(request)), requireKnownType: false)
        return HTTPResponses.json(sentReply(published))
    }

    /// `{type, content, sender, room}` → `{"status": "sent", "message_id": ...}`.
    private func message(_ request: Request, context: MoonwireRequestContext) async throws(HubError) -> Response {
        try apiKey.verify(request)
        var request = request
        let body = try await request.jsonObjectBody(limit: configuration.maxBodyBytes)
        let type = try body.string("type") ?? EventType.message.rawValue
        let room = try body.room() ?? hub.defaultRoom
        let user = try await publisher(request, claimed: try body.string("sender"), trustedDefault: "anonymous", context: context)
        let event = Event(type: EventType(type), userID: user, roomID: room, data: ["content": body["content"] ?? .string("")])
        let published = try await hub.publish(
            event, from: PublisherInfo(connection: nil, transport: .http, userID: user, trusted: apiKey.isTrusted(request)), requireKnownType: false)
        return HTTPResponses.json(sentReply(published))
    }

    /// Who publishes: a caller holding the API key is trusted with the name it gives (`trustedDefault`
    /// when it gives none); anyone else goes through the auth hooks (without an auth plugin, the seed's
    /// rule: the name given, else `anonymous`; never the hub's own `system`).
    private func publisher(_ request: Request, claimed: String?, trustedDefault: String, context: MoonwireRequestContext) async throws(HubError)
        -> String
    {
        if apiKey.isTrusted(request) {
            let user = claimed ?? trustedDefault
            if let error = Identity.validateUserID(user) { throw error }
            return user
        }
        return try await hub.authenticate(
            ConnectRequest(
                transport: .http, remoteAddress: context.remoteAddress, headers: request.headerDictionary,
                query: request.queryDictionary, claimedUserID: claimed ?? "anonymous", token: request.bearerToken)
        ).get().userID
    }

    private func sentReply(_ event: Event) -> JSONValue {
        [
            "status": "sent",
            "event_id": .string(event.wireID),
            "message_id": .string(event.wireID),
            "room_id": event.roomID.map { .string($0) } ?? .null,
            "stored": .bool(event.isStored),
        ]
    }
}

/// Runs a handler and turns a hub error into its JSON response.
func respond(_ body: () async throws(HubError) -> Response) async -> Response {
    let result: Result<Response, HubError>
    do throws(HubError) {
        result = .success(try await body())
    } catch {
        result = .failure(error)
    }
    switch result {
    case .success(let response): return response
    case .failure(let error): return HTTPResponses.error(error)
    }
}

extension JSONObject {
    /// The room named by `room` or `room_id`.
    func room() throws(HubError) -> String? {
        if let room = try string("room") { return room }
        return try string("room_id")
    }

    /// A string member; `nil` when absent or null; an error naming the key when it is not a string.
    func string(_ key: String) throws(HubError) -> String? {
        switch self[key] {
        case .none, .null?: return nil
        case .string(let value)?: return value
        case let other?: throw HubError(.invalidField, "'\(key)' must be a string, got \(other.typeName)")
        }
    }
}
