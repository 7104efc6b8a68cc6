import AsyncHTTPClient
import MoonwireCore
import NIOCore

/// The Server-Sent Events transport: `GET /events?rooms=…&last_event_id=room:id,…&replay=N&plain=1` to
/// receive (rooms without a position get the `replay` most recent events), `POST /publish` and
/// `GET /presence` to send and ask. Rooms are part of the stream's URL, so joining or leaving opens a new
/// stream (resuming every room from its position) and then drops the old one.
actor EventStreamClientTransport: ClientTransport {
    private let context: TransportContext
    private var current = 0
    private var nextStream = 0
    private var streams: [Int: Task<Void, Never>] = [:]
    private var closedByClient = false
    private let end = OneShot<MoonwireError>()
    private var followed: [String] = []

    init(_ context: TransportContext) {
        self.context = context
    }

    func open() async throws -> [String] {
        // Following nothing, there is no stream to open until a room is joined.
        guard await !context.rooms().isEmpty else { return [] }
        do {
            try await openStream()
        } catch var error as MoonwireError {
            // Refusals that a retry would only meet again end the client (as a WebSocket's 4001 would).
            if [400, 401, 403, 404].contains(error.status ?? 0) { error.closeCode = 4001 }
            throw error
        }
        return followed
    }

    func ended() async -> MoonwireError {
        (try? await end.value()) ?? .closedByClient
    }

    /// Opens a stream over the client's rooms; once its welcome arrived it becomes the current stream and
    /// the previous one is dropped.
    private func openStream() async throws {
        let rooms = await context.rooms()
        guard !rooms.isEmpty else { throw MoonwireError(code: "missing_field", message: "an event stream needs at least one room") }
        let positions = rooms.compactMap { entry in entry.position.map { "\(entry.room):\($0)" } }
        let query = queryString([
            ("rooms", rooms.map(\.room).joined(separator: ",")),
            ("user_id", context.options.userID),
            ("last_event_id", positions.isEmpty ? nil : positions.joined(separator: ",")),
            ("replay", String(context.options.replay)),
            ("plain", "1"),
        ])
        var request = HTTPClientRequest(url: context.options.url + "/events?" + query)
        request.headers.add(name: "Accept", value: "text/event-stream")
        for (name, value) in context.authHeaders { request.headers.add(name: name, value: value) }
        let response: HTTPClientResponse
        do {
            let limit = TimeAmount.seconds(Int64(context.options.openTimeout.components.seconds) + 1)
            response = try await HubHTTPClient.failFastClient.execute(request, timeout: limit)
        } catch {
            throw MoonwireError.from(error)
        }
        guard response.status == .ok else {
            let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            let text = String(buffer: body)
            let reply = HubHTTPClient.Reply(status: Int(response.status.code), headers: [], body: try? JSONParser().parse(text), text: text)
            throw MoonwireError(reply: reply)
        }
        nextStream += 1
        let id = nextStream
        let fresh = rooms.filter { $0.position == nil }.map(\.room)
        let welcome = OneShot<Result<Void, MoonwireError>>()
        streams[id] = Task { await self.read(response.body, stream: id, welcome: welcome, fresh: fresh) }
        do {
            try await welcome.value().get()
        } catch {
            streams.removeValue(forKey: id)?.cancel()
            throw error
        }
        let previous = current
        current = id
        followed = rooms.map(\.room)
        streams.removeValue(forKey: previous)?.cancel()
    }

    private func read(_ body: HTTPClientResponse.Body, stream id: Int, welcome: OneShot<Result<Void, MoonwireError>>, fresh: [String]) async {
        var parser = SSEParser()
        var ending: MoonwireError?
        var welcomed = false
        do {
            for try await buffer in body {
                for line in parser.feed(buffer) {
                    guard case .message(let message) = parser.handle(line) else { continue }
                    if message.event == "disconnect" {
                        ending = Self.ending(message.json)
                        continue
                    }
                    guard let json = message.json, let event = Event(wire: json) else { continue }
                    if !welcomed, event.isWelcome {
                        welcomed = true
                        await context.welcomed(event)
                        for room in fresh { await context.reached(room, event.positionBefore) }
                        welcome.resolve(.success(()))
                        continue
                    }
                    if streams[id] == nil { return }  // dropped for a newer stream
                    await context.deliver(event)
                }
            }
        } catch {}
        let error = ending ?? MoonwireError(code: "closed", message: "the event stream ended")
        if !welcomed { welcome.resolve(.failure(error)) }
        if id == current, streams[id] != nil {
            streams[id] = nil
            end.resolve(closedByClient ? .closedByClient : error)
        }
    }

    /// The final `disconnect` event's reason as an error; `kicked` and `refused` are final.
    private static func ending(_ data: JSONValue?) -> MoonwireError {
        let code = data?["code"]?.stringValue ?? "closed"
        var error = MoonwireError(code: code, message: data?["message"]?.stringValue ?? "the hub ended the stream")
        switch code {
        case "kicked": error.closeCode = 4004
        case "refused": error.closeCode = 4003
        case "auth_failed": error.closeCode = 4001
        case "shutdown": error.closeCode = 1001
        case "slow_consumer": error.closeCode = 4008
        default: break
        }
        return error
    }

    func join(_ room: String) async throws {
        guard !closedByClient, end.current == nil else { throw MoonwireError.notConnected }
        try await reopen()
    }

    /// A new stream over the client's rooms, within the open timeout.
    private func reopen() async throws {
        try await withDeadline(context.options.openTimeout, orFail: .timeout("the new event stream did not open in time")) {
            try await self.openStream()
        }
    }

    func leave(_ room: String) async throws {
        guard !closedByClient, end.current == nil else { throw MoonwireError.notConnected }
        if await context.rooms().isEmpty {
            // Nothing left to follow: drop the stream; a join opens a new one.
            followed = []
            current = 0
            let all = streams
            streams = [:]
            for task in all.values { task.cancel() }
            return
        }
        try await reopen()
    }

    func publish(room: String, type: String, data: JSONValue) async throws -> PublishedEvent {
        try await HTTPRequests.publish(
            context, user: await context.identity(), room: room, type: type, data: data, connectionID: await context.connectionID())
    }

    func presence(_ room: String) async throws -> JSONValue {
        try await HTTPRequests.presence(context, user: await context.identity(), room: room)
    }

    func close() async {
        closedByClient = true
        let all = streams
        streams = [:]
        for task in all.values { task.cancel() }
        end.resolve(.closedByClient)
    }
}
