import MoonwireCore

/// The long-poll transport: `GET /poll?client_id=…&rooms=…&last_message_id=room:id,…&timeout=…` in a
/// loop, `POST /publish` and `GET /presence` to send and ask. Each poll names the client's current rooms
/// and positions, so joining or leaving just restarts the poll in progress. A room without a position
/// is read from its retained history (paged until `has_more` is false) and trimmed to `Options.replay`
/// events.
actor LongPollClientTransport: ClientTransport {
    private let context: TransportContext
    private var closedByClient = false
    private let end = OneShot<MoonwireError>()
    private var loop: Task<Void, Never>?
    private var inFlight: Task<HubHTTPClient.Reply, any Error>?
    /// Set when the poll in flight was cancelled because the rooms changed.
    private var restarting = false
    /// Rooms being read from the start, with what was read of them so far.
    private var syncing: [String: [Event]] = [:]
    /// Joins waiting for a poll that names their room to be answered.
    private var joins: [String: [OneShot<Result<Void, MoonwireError>>]] = [:]
    /// Rooms whose join the hub refused: left out of polls until joined again.
    private var refused: Set<String> = []
    private var wake: OneShot<Void>?

    init(_ context: TransportContext) {
        self.context = context
    }

    /// The user the session polls as (the hub's default for a poll without `user_id` is the `client_id`).
    private var user: String { context.options.userID ?? context.clientID }
    /// The user id the hub established for the polls (with an auth plugin, the token's user).
    private var identity: String?

    func open() async throws -> [String] {
        if await context.rooms().isEmpty {
            // Following nothing: the loop waits for a join.
            loop = Task { await self.run(more: false) }
            return []
        }
        let (more, rooms) = try await poll(timeout: .zero)
        loop = Task { await self.run(more: more) }
        return rooms
    }

    func ended() async -> MoonwireError {
        (try? await end.value()) ?? .closedByClient
    }

    private func run(more: Bool) async {
        var again = more
        while !closedByClient {
            do {
                (again, _) = try await poll(timeout: again ? .zero : context.options.pollTimeout)
            } catch {
                if closedByClient { return }
                if restarting {
                    again = true
                    continue
                }
                let error = MoonwireError.from(error)
                if !joins.isEmpty, let status = error.status, (400..<500).contains(status) {
                    // The hub refused a room being joined: that join fails, the others go on.
                    refused.formUnion(joins.keys)
                    for (_, waiters) in joins { for waiter in waiters { waiter.resolve(.failure(error)) } }
                    joins = [:]
                    again = true
                    continue
                }
                end.resolve(error)
                return
            }
        }
    }

    /// One poll over the client's rooms; returns whether more is waiting, and the rooms polled.
    private func poll(timeout: Duration) async throws -> (hasMore: Bool, rooms: [String]) {
        restarting = false
        let rooms = await context.rooms().filter { !refused.contains($0.room) }
        guard !rooms.isEmpty else {
            // Nothing to poll: wait for a join.
            let wake = OneShot<Void>()
            self.wake = wake
            try? await wake.value()
            self.wake = nil
            throw CancellationError()
        }
        for entry in rooms where entry.position == nil && syncing[entry.room] == nil { syncing[entry.room] = [] }
        let positions = rooms.compactMap { entry in entry.position.map { "\(entry.room):\($0)" } }
        let wait = syncing.isEmpty ? timeout : .zero
        let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
        let query = queryString([
            ("client_id", context.clientID),
            ("user_id", context.options.userID),
            ("rooms", rooms.map(\.room).joined(separator: ",")),
            ("last_message_id", positions.isEmpty ? nil : positions.joined(separator: ",")),
            ("timeout", String(seconds)),
        ])
        let http = context.http
        let headers = context.authHeaders
        let request = Task { try await http.request("GET", "/poll?" + query, headers: headers, timeout: wait + .seconds(30)) }
        inFlight = request
        let reply: HubHTTPClient.Reply
        do {
            reply = try await withTaskCancellationHandler { try await request.value } onCancel: { request.cancel() }
        } catch {
            inFlight = nil
            throw error
        }
        inFlight = nil
        if restarting { throw CancellationError() }
        guard reply.status == 200, let body = reply.body else {
            var error = MoonwireError(reply: reply)
            if reply.status == 401 || reply.status == 403 { error.closeCode = 4001 }
            throw error
        }
        if let established = body["user_id"]?.stringValue, established != identity {
            identity = established
            await context.identified(established)
        }
        for gap in body["gaps"]?.arrayValue ?? [] {
            if let event = Event(wire: gap) { await context.deliver(event) }
        }
        for message in body["messages"]?.arrayValue ?? [] {
            guard let event = Event(wire: message) else { continue }
            if let room = event.roomID, syncing[room] != nil {
                syncing[room]?.append(event)
            } else {
                await context.deliver(event)
            }
        }
        let hasMore = body["has_more"]?.boolValue ?? false
        if !hasMore {
            let done = syncing
            syncing = [:]
            for (room, events) in done where rooms.contains(where: { $0.room == room }) {
                for event in trimReplay(events, keep: context.options.replay) { await context.deliver(event) }
            }
        }
        if let text = body["last_message_id"]?.stringValue, let cursor = Cursor(parsing: text) {
            for entry in rooms {
                if let position = cursor.position(for: entry.room) { await context.reached(entry.room, position) }
            }
        }
        for entry in rooms {
            for waiter in joins.removeValue(forKey: entry.room) ?? [] { waiter.resolve(.success(())) }
        }
        return (hasMore, rooms.map(\.room))
    }

    /// Makes the loop poll again at once with the current rooms.
    private func restart() {
        restarting = true
        inFlight?.cancel()
        wake?.resolve(())
    }

    func join(_ room: String) async throws {
        guard !closedByClient, end.current == nil else { throw MoonwireError.notConnected }
        refused.remove(room)
        let waiter = OneShot<Result<Void, MoonwireError>>()
        joins[room, default: []].append(waiter)
        restart()
        let result = try await withDeadline(context.options.requestTimeout, orFail: .timeout("the hub did not answer the poll")) {
            try await waiter.value()
        }
        try result.get()
    }

    func leave(_ room: String) async throws {
        syncing[room] = nil
        restart()
    }

    func publish(room: String, type: String, data: JSONValue) async throws -> PublishedEvent {
        try await HTTPRequests.publish(context, user: identity ?? user, room: room, type: type, data: data, connectionID: nil)
    }

    func presence(_ room: String) async throws -> JSONValue {
        try await HTTPRequests.presence(context, user: identity ?? user, room: room)
    }

    func close() async {
        closedByClient = true
        inFlight?.cancel()
        loop?.cancel()
        wake?.resolve(())
        for (_, waiters) in joins { for waiter in waiters { waiter.resolve(.failure(.closedByClient)) } }
        joins = [:]
        end.resolve(.closedByClient)
    }
}
