import Hummingbird
import MoonwireCore

/// `GET /poll`: the seed's long-poll with a message cursor, over one or several rooms.
struct LongPollEndpoint: Sendable {
    let hub: Hub
    let configuration: ServerConfiguration

    func register(on router: Router<MoonwireRequestContext>) {
        router.get("/poll") { request, context in
            await respond { () throws(HubError) in try await poll(request, context: context) }
        }
    }

    private func poll(_ request: Request, context: MoonwireRequestContext) async throws(HubError) -> Response {
        let query = RequestQuery(request)
        let rooms = query.rooms ?? [hub.defaultRoom]
        var timeout = configuration.hub.pollDefaultTimeout
        if let text = query["timeout"] {
            guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
                throw HubError(.invalidField, "'timeout' must be a number of seconds, got '\(text.prefix(32))'")
            }
            timeout = .milliseconds(Int64(min(seconds, 86_400) * 1000))
        }
        let position = query["last_message_id"] ?? ""
        let cursor = Cursor(parsing: position)
        let unknown = cursor == nil && !position.trimming(" ").isEmpty ? position : nil

        let clientID = query["client_id"]
        let claimed = query["user_id"] ?? clientID ?? "anonymous"
        let identity = try await hub.authenticate(
            ConnectRequest(
                transport: .longPoll, remoteAddress: context.remoteAddress, headers: request.headerDictionary,
                query: query.values, claimedUserID: claimed, token: query.bearerToken(request))
        ).get()
        let session = try hub.pollSession(clientID: clientID, identity: identity, remoteAddress: context.remoteAddress)
        let pollRequest = PollRequest(connection: session, rooms: rooms, cursor: cursor, timeout: timeout, unknownCursor: unknown)
        // Not wrapped in consumeWithCancellationOnInboundClose: that closes the connection after the answer,
        // and long-poll clients reuse keep-alive connections. A poll whose client went away ends at its timeout.
        let result = try await hub.poll(pollRequest)
        var body: JSONObject = [
            "messages": .array(result.messages.map { .object($0.pollMessage) }),
            "last_message_id": .string(result.cursor),
            "has_more": .bool(result.hasMore),
            "user_id": .string(identity.userID),
        ]
        if !result.gaps.isEmpty {
            body["gaps"] = .array(result.gaps.map { .object($0.wireObject) })
        }
        return HTTPResponses.json(.object(body))
    }
}
