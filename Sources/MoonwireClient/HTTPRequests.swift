import MoonwireCore

/// The HTTP requests of clients that are not on a WebSocket: `POST /publish` and `GET /presence`.
enum HTTPRequests {
    /// `POST /publish`; the id of the stored event (`nil` when not stored).
    static func publish(
        _ context: TransportContext, user: String?, room: String, type: String, data: JSONValue, connectionID: String?
    ) async throws -> PublishedEvent {
        var body: JSONObject = ["room": .string(room), "event_type": .string(type), "data": data]
        if let user { body["user_id"] = .string(user) }
        if let connectionID { body["connection_id"] = .string(connectionID) }
        let reply = try await send("POST", "/publish", json: .object(body), context)
        guard let answer = reply.body, answer["status"]?.stringValue == "sent" else {
            throw MoonwireError(code: "bad_reply", message: "unexpected answer to POST /publish: \(reply.text.prefix(200))")
        }
        return PublishedEvent(id: answer["event_id"]?.stringValue.flatMap { EventID($0) }, event: answer["event"].flatMap { Event(wire: $0) })
    }

    /// `GET /presence?room=…`.
    static func presence(_ context: TransportContext, user: String?, room: String) async throws -> JSONValue {
        let query = queryString([("room", room), ("user_id", user)])
        let reply = try await send("GET", "/presence?" + query, json: nil, context)
        guard let answer = reply.body, answer["users"] != nil else {
            throw MoonwireError(code: "bad_reply", message: "unexpected answer to GET /presence: \(reply.text.prefix(200))")
        }
        return answer
    }

    private static func send(_ method: String, _ path: String, json: JSONValue?, _ context: TransportContext) async throws
        -> HubHTTPClient.Reply
    {
        let reply: HubHTTPClient.Reply
        do {
            reply = try await context.http.request(method, path, json: json, headers: context.authHeaders, timeout: context.options.requestTimeout)
        } catch {
            throw MoonwireError.from(error)
        }
        guard reply.status == 200 else { throw MoonwireError(reply: reply) }
        return reply
    }
}
