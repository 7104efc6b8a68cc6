import Hummingbird
import MoonwireCore

/// `GET /poll`: the seed's long-poll with a message cursor, over one or several rooms.
struct LongPollEndpoint: Sendable {
    let hub: Hub
    let configuration: ServerConfiguration

    func register(on router: Router<MoonwireRequestContext>) {
        // Connections that the `TransportRouter` serves never reach this route; those it stepped aside for do.
        router.get("/poll") { request, context in
            await respond { () throws(HubError) in
                let query = RequestQuery(request)
                let answer = try await poll(
                    query: query, headers: request.headerDictionary, token: query.bearerToken(request),
                    remoteAddress: context.remoteAddress)
                return HTTPResponses.json(bytes: answer)
            }
        }
        router.delete("/poll") { request, context in
            await respond { () throws(HubError) in try await endSession(request, context: context) }
        }
    }

    /// `DELETE /poll?client_id=ID`: the client signs out; its session ends at once (authenticated as a poll).
    private func endSession(_ request: Request, context: MoonwireRequestContext) async throws(HubError) -> Response {
        let query = RequestQuery(request)
        guard let clientID = query["client_id"], !clientID.isEmpty else {
            throw HubError(.missingField, "missing query parameter 'client_id'")
        }
        let identity = try await authenticate(
            query: query, headers: request.headerDictionary, token: query.bearerToken(request),
            remoteAddress: context.remoteAddress, claimed: query["user_id"] ?? clientID)
        let ended = await hub.endPollSession(clientID: clientID, userID: identity.userID)
        return HTTPResponses.json(["ended": .bool(ended)])
    }

    private func authenticate(
        query: RequestQuery, headers: [String: String], token: String?, remoteAddress: String?, claimed: String
    ) async throws(HubError) -> Identity {
        try await hub.authenticate(
            ConnectRequest(
                transport: .longPoll, remoteAddress: remoteAddress, headers: headers,
                query: query.values, claimedUserID: claimed, token: token)
        ).get()
    }

    /// Answers one `GET /poll`, whichever HTTP path brought it: the answer's JSON.
    /// - Parameters:
    ///   - headers: the request's headers, names in lower case (as plugins see them).
    ///   - token: a bearer token from `Authorization`, else the `token` parameter.
    func poll(query: RequestQuery, headers: [String: String], token: String?, remoteAddress: String?) async throws(HubError) -> [UInt8] {
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
        let identity = try await authenticate(
            query: query, headers: headers, token: token, remoteAddress: remoteAddress, claimed: claimed)
        let session = try hub.pollSession(clientID: clientID, identity: identity, remoteAddress: remoteAddress)
        let pollRequest = PollRequest(connection: session, rooms: rooms, cursor: cursor, timeout: timeout, unknownCursor: unknown)
        let result = try await hub.poll(pollRequest)
        return Self.answer(result, userID: identity.userID)
    }

    /// `{"messages":[…],"last_message_id":…,"has_more":…,"user_id":…[,"gaps":[…]]}`, with the messages
    /// already encoded (once per event for every poll that reads it).
    static func answer(_ result: PollResult, userID: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96 + result.encodedMessages.reduce(0) { $0 + $1.count + 1 })
        out.append(contentsOf: #"{"messages":["#.utf8)
        for (index, message) in result.encodedMessages.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: message)
        }
        out.append(contentsOf: #"],"last_message_id":"#.utf8)
        JSONWriter.writeString(result.cursor, into: &out)
        out.append(contentsOf: #","has_more":"#.utf8)
        out.append(contentsOf: (result.hasMore ? "true" : "false").utf8)
        out.append(contentsOf: #","user_id":"#.utf8)
        JSONWriter.writeString(userID, into: &out)
        if !result.gaps.isEmpty {
            out.append(contentsOf: #","gaps":"#.utf8)
            JSONWriter.write(.array(result.gaps.map { .object($0.wireObject) }), into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
