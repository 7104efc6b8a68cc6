import HTTPTypes
import Hummingbird
import MoonwireCore
import NIOCore
import NIOHTTPTypesHTTP1

/// `GET /events`: a Server-Sent Events stream of one or several rooms, resumable with `Last-Event-ID`.
struct SSEEndpoint: Sendable {
    let hub: Hub
    let configuration: ServerConfiguration

    func register(on router: Router<MoonwireRequestContext>) {
        // Connections that the `TransportRouter` serves never reach this route; those it stepped aside for do.
        router.get("/events") { request, context in
            await respond { () throws(HubError) in
                let query = RequestQuery(request)
                let stream = try await open(
                    query: query, lastEventID: request.headers[.lastEventID], headers: request.headerDictionary,
                    token: query.bearerToken(request), remoteAddress: context.remoteAddress, channel: context.channel)
                return response(stream, request: request, channel: context.channel)
            }
        }
    }

    /// The first line of every stream: how long a browser waits before it reconnects.
    static let preamble = "retry: 3000\n\n"

    /// Opens a stream, whichever HTTP path brought the request: authenticates, connects, welcomes and joins
    /// the rooms (with the replay asked for); the connection's events are then written in `format`.
    /// - Parameters:
    ///   - lastEventID: the `Last-Event-ID` header (it wins over the `last_event_id` parameter).
    ///   - headers: the request's headers, names in lower case (as plugins see them).
    func open(
        query: RequestQuery, lastEventID: String?, headers: [String: String], token: String?, remoteAddress: String?,
        channel: any Channel
    ) async throws(HubError) -> (connection: Connection, format: SSEEventFormat) {
        let rooms = query.rooms ?? [hub.defaultRoom]
        for room in rooms { if let error = RoomName.validate(room) { throw error } }
        // The header wins: a browser's EventSource reconnects with the URL it started with and the newest id in the header.
        let position = lastEventID ?? query["last_event_id"]
        let cursor = position.flatMap(Cursor.init(parsing:))
        let unknownPosition = cursor == nil && !(position ?? "").trimming(" ").isEmpty ? position : nil

        var recent = 0
        if let text = query["replay"] {
            guard let count = Int(text), count >= 0 else { throw HubError(.invalidField, "'replay' must be a number of events") }
            recent = min(count, configuration.hub.historySize)
        }
        let plain = ["1", "true", "yes"].contains(query["plain"]?.lowercased() ?? "")
        let claimed = query["user_id"] ?? query["client_id"] ?? "anonymous-\(RandomID.token(length: 8))"
        let identity = try await hub.authenticate(
            ConnectRequest(
                transport: .sse, remoteAddress: remoteAddress, headers: headers,
                query: query.values, claimedUserID: claimed, token: token)
        ).get()
        let connection = try hub.connect(identity: identity, transport: .sse, remoteAddress: remoteAddress)
        connection.attach(to: channel)
        connection.send(hub.welcome(connection))
        var start = Cursor()
        do {
            for room in rooms {
                let replay: Replay
                if let unknownPosition {
                    replay = .unknownPosition(unknownPosition)
                } else if let after = cursor?.position(for: room) {
                    replay = .resume(after: after)
                } else {
                    replay = recent > 0 ? .recent(recent) : .none
                }
                try await hub.join(connection, room: room, replay: replay)
                if let after = cursor?.position(for: room) {
                    start.set(room, after)
                } else if unknownPosition == nil, recent == 0, let head = connection.position(in: room) {
                    // (With `replay`, the position starts with the first replayed event instead.)
                    start.set(room, head)
                }
            }
        } catch {
            await hub.disconnect(connection, reason: .refused(error.message))
            throw error
        }
        return (connection, SSEEventFormat(rooms: rooms, cursor: start, plain: plain))
    }

    /// The stream as Hummingbird's response: its writer runs the connection's pump.
    private func response(
        _ stream: (connection: Connection, format: SSEEventFormat), request: Request, channel: any Channel
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let (connection, format) = stream
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: Self.preamble))
                var transport = SSETransport(writer: writer, format: format, channel: channel)
                // Only once the head and the line above are on the channel may events go to it directly.
                await channel.settle()
                connection.attachDirectSink(
                    SSEDirectSink(
                        channel: channel, format: format,
                        output: .hummingbird(PipelineContext(of: HTTP1ToHTTPServerCodec.self, in: channel))))
                _ = try await request.body.consumeWithInboundCloseHandler { _ in
                    await hub.serve(connection, over: &transport)
                } onInboundClosed: {
                    connection.close(.clientClosed)
                }
                try await transport.writer.finish(nil)
            })
    }
}
