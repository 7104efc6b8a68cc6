import MoonwireCore

/// The WebSocket transport (`GET /ws`): the auth frame names the rooms that have a position, with `since`;
/// rooms without one are joined with `user_joined` frames afterwards, and their replay (everything that
/// arrives before the join's `ack`) is trimmed to `Options.replay` events. Requests carry a `ref` and
/// wait for the hub's `ack`, `error` or `presence` answer carrying it.
actor WebSocketClientTransport: ClientTransport {
    private struct Pending {
        let answer: OneShot<Result<Event, MoonwireError>>
        /// A join without a position: its replay is trimmed when the `ack` comes.
        let trimmedRoom: String?
    }

    private let context: TransportContext
    private var session: WebSocketSession?
    private var opened = false
    private var closedByClient = false
    private var refusal: MoonwireError?
    private let welcome = OneShot<Result<Void, MoonwireError>>()
    private let end = OneShot<MoonwireError>()
    private var pending: [Int64: Pending] = [:]
    private var nextRef: Int64 = 1
    /// Rooms joined without a position whose replay is being collected, to be trimmed.
    private var replaying: [String: [Event]] = [:]
    private var followed: [String] = []
    private var reader: Task<Void, Never>?
    private var heartbeat: Task<Void, Never>?
    /// The hub's `heartbeat.timeout`, from the welcome.
    private var hubHeartbeatTimeout: Duration?

    init(_ context: TransportContext) {
        self.context = context
    }

    func open() async throws -> [String] {
        let rooms = await context.rooms()
        let resumed = rooms.compactMap { entry in entry.position.map { (entry.room, $0) } }
        var frame: JSONObject = ["metadata": .object(context.options.metadata)]
        if let user = context.options.userID { frame["user_id"] = .string(user) }
        if let token = context.options.token { frame["token"] = .string(token) }
        frame["rooms"] = .array(resumed.map { .string($0.0) })
        frame["since"] = .object(JSONObject(resumed.map { ($0.0, .string($0.1.description)) }))
        let session: WebSocketSession
        do {
            session = try await WebSocketSession.connect(url: context.webSocketURL, authFrame: .object(frame))
        } catch {
            throw MoonwireError(code: "unreachable", message: "cannot open a WebSocket to \(context.webSocketURL): \(error)")
        }
        if closedByClient {
            session.abort()
            throw MoonwireError.closedByClient
        }
        self.session = session
        reader = Task { await self.read(session) }
        try await welcome.value().get()
        followed = resumed.map(\.0)
        for (room, position) in rooms where position == nil {
            do {
                try await joinFresh(room)
                followed.append(room)
            } catch let error as MoonwireError where !MoonwireClient.isConnectionProblem(error) {
                await context.client?.refuseRoom(room, error)
            }
        }
        // Often enough for the hub's timeout, whatever the option says.
        var interval = context.options.heartbeat
        if let timeout = hubHeartbeatTimeout, timeout > .zero { interval = min(interval, timeout / 3) }
        heartbeat = Task { [weak session] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let session, !Task.isCancelled else { return }
                try? await session.send(["event_type": "heartbeat", "data": ["ping": true]])
            }
        }
        return followed
    }

    func ended() async -> MoonwireError {
        (try? await end.value()) ?? .closedByClient
    }

    private func read(_ session: WebSocketSession) async {
        for await frame in session.frames {
            guard let event = Event(wire: frame) else { continue }
            await handle(event)
        }
        finished(session)
    }

    private func handle(_ event: Event) async {
        guard opened else {
            if event.isWelcome {
                opened = true
                if let seconds = event.data["heartbeat_timeout"]?.doubleValue, seconds.isFinite, seconds > 0 {
                    hubHeartbeatTimeout = .milliseconds(Int64(seconds * 1000))
                }
                await context.welcomed(event)
                welcome.resolve(.success(()))
            } else if event.type == .error {
                refusal = MoonwireError(errorEvent: event)
            }
            return
        }
        if event.type == .ack || event.type == .error || event.type == .presence, let ref = event.data["ref"]?.intValue,
            let request = pending.removeValue(forKey: ref)
        {
            if let room = request.trimmedRoom, let replay = replaying.removeValue(forKey: room) {
                if event.type == .ack {
                    for replayed in trimReplay(replay, keep: context.options.replay) { await context.deliver(replayed) }
                    await context.reached(room, event.positionBefore)
                }
            }
            request.answer.resolve(event.type == .error ? .failure(MoonwireError(errorEvent: event)) : .success(event))
            return
        }
        if event.type == .heartbeat, event.data["pong"] != nil { return }
        if let room = event.roomID, replaying[room] != nil {
            replaying[room]?.append(event)
            return
        }
        await context.deliver(event)
    }

    private func finished(_ session: WebSocketSession) {
        heartbeat?.cancel()
        let close = session.closeCode
        var error = refusal ?? MoonwireError(code: close.flatMap { Self.closeCodeNames[$0.code] } ?? "closed", message: "the connection closed")
        if let close {
            error.closeCode = close.code
            if refusal == nil {
                let reason = close.reason.flatMap { $0.isEmpty ? nil : $0 }
                error.message = "the hub closed the connection (\(close.code)\(reason.map { ": \($0)" } ?? ""))"
            }
        }
        for request in pending.values { request.answer.resolve(.failure(.disconnected)) }
        pending = [:]
        replaying = [:]
        if !opened {
            welcome.resolve(.failure(error))
        }
        end.resolve(closedByClient ? .closedByClient : error)
    }

    /// Sends a frame with a fresh `ref` and waits for the hub's answer to it.
    private func request(_ frame: JSONObject, trimming room: String? = nil) async throws -> Event {
        guard opened, let session else { throw MoonwireError.notConnected }
        if end.current != nil { throw MoonwireError.disconnected }
        let ref = nextRef
        nextRef += 1
        let answer = OneShot<Result<Event, MoonwireError>>()
        pending[ref] = Pending(answer: answer, trimmedRoom: room)
        if let room { replaying[room] = [] }
        var frame = frame
        frame["ref"] = .int(ref)
        do {
            try await session.send(.object(frame))
            let result = try await withDeadline(context.options.requestTimeout, orFail: .timeout("the hub did not answer")) {
                try await answer.value()
            }
            return try result.get()
        } catch {
            if pending.removeValue(forKey: ref) != nil, let room { replaying[room] = nil }
            if error is MoonwireError { throw error }
            throw MoonwireError.disconnected
        }
    }

    private func joinFresh(_ room: String) async throws {
        _ = try await request(["event_type": "user_joined", "data": ["room_id": .string(room)]], trimming: room)
    }

    func join(_ room: String) async throws {
        if let position = await context.position(room) {
            let data: JSONValue = ["room_id": .string(room), "since": .string(position.description)]
            _ = try await request(["event_type": "user_joined", "data": data])
        } else {
            try await joinFresh(room)
        }
        if !followed.contains(room) { followed.append(room) }
    }

    func leave(_ room: String) async throws {
        followed.removeAll { $0 == room }
        _ = try await request(["event_type": "user_left", "data": ["room_id": .string(room)]])
    }

    func publish(room: String, type: String, data: JSONValue) async throws -> PublishedEvent {
        let ack = try await request(["event_type": .string(type), "room_id": .string(room), "data": data])
        return PublishedEvent(id: ack.data["event_id"]?.stringValue.flatMap { EventID($0) }, event: ack.data["event"].flatMap { Event(wire: $0) })
    }

    func presence(_ room: String) async throws -> JSONValue {
        try await request(["event_type": "presence", "room_id": .string(room)]).data
    }

    func close() async {
        closedByClient = true
        heartbeat?.cancel()
        guard let session else { return }
        // A close handshake, but never waiting long for a hub that does not answer it.
        let closing = Task { await session.close() }
        let timer = Task {
            try? await Task.sleep(for: .seconds(2))
            if !Task.isCancelled { session.abort() }
        }
        await closing.value
        timer.cancel()
        await reader?.value
    }

    /// The hub's close codes by name (docs/protocol.md), so errors read the same on every transport.
    static let closeCodeNames: [Int: String] = [
        1001: "shutdown", 1002: "protocol_error", 1008: "origin_not_allowed", 1009: "frame_too_large", 4001: "auth_failed",
        4002: "auth_timeout", 4003: "refused", 4004: "kicked", 4008: "slow_consumer", 4009: "heartbeat_timeout",
    ]
}
