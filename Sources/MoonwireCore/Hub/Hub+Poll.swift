/// One long-poll request.
public struct PollRequest: Sendable {
    /// The session (or a one-off connection for clients without a `client_id`).
    public var connection: Connection
    public var rooms: [String]
    /// Where the client is; `nil` on a first poll (everything retained is returned, as the seed does).
    public var cursor: Cursor?
    /// How long to wait for an event when there is none yet; clamped to the configured maximum.
    public var timeout: Duration
    /// A cursor the client sent that the hub cannot read: reported as a gap in every room.
    public var unknownCursor: String?

    public init(connection: Connection, rooms: [String], cursor: Cursor?, timeout: Duration, unknownCursor: String? = nil) {
        self.connection = connection
        self.rooms = rooms
        self.cursor = cursor
        self.timeout = timeout
        self.unknownCursor = unknownCursor
    }
}

/// The answer to a long-poll.
public struct PollResult: Sendable {
    /// Stored events after the cursor, oldest first, from all polled rooms.
    public var messages: [Event]
    /// Where the client now is: send it back as `last_message_id`.
    public var cursor: String
    /// More events are waiting: poll again at once.
    public var hasMore: Bool
    /// Rooms where events after the client's cursor are no longer retained.
    public var gaps: [Event]
    /// Each of `messages` as a long-poll message in JSON (`Event.pollMessage`), in the same order.
    public var encodedMessages: [[UInt8]]
}

extension Hub {
    /// The long-poll session for `clientID` and `identity`, created (and counted as present) on first use.
    /// Without a client id the poll is anonymous: a one-off connection that is not registered.
    public func pollSession(clientID: String?, identity: Identity, remoteAddress: String?) throws(HubError) -> Connection {
        guard let clientID, !clientID.isEmpty else {
            return Connection(transport: .longPoll, identity: identity, remoteAddress: remoteAddress, queueLimit: 0, clock: clock)
        }
        let key = clientID + "\u{1}" + identity.userID
        if let existing = registry.withLock({ $0.pollSessions[key] }) {
            existing.markSeen()
            return existing
        }
        let connection = try connect(identity: identity, transport: .longPoll, remoteAddress: remoteAddress)
        let winner = registry.withLock { registry -> Connection in
            if let raced = registry.pollSessions[key] { return raced }
            registry.pollSessions[key] = connection
            return connection
        }
        if winner !== connection {
            registry.withLock { registry in
                registry.connections.removeValue(forKey: connection.id)
                registry.byUser[identity.userID]?.remove(connection.id)
            }
            statistics.connectionClosed(.longPoll, reason: .clientClosed)
        }
        return winner
    }

    /// How long a session stays after a poll that outlasted the session timeout was answered.
    static let pollAnswerGrace: Duration = .seconds(5)

    /// Ends the long-poll session of `clientID` and `userID` at once (the client signed out or its page
    /// went away): it leaves its rooms as on any disconnect. Returns false when there was none.
    public func endPollSession(clientID: String, userID: String) async -> Bool {
        let key = clientID + "\u{1}" + userID
        guard let session = registry.withLock({ $0.pollSessions[key] }) else { return false }
        await disconnect(session, reason: .clientClosed)
        return true
    }

    /// Answers a long-poll: stored events after the cursor in any of the rooms, at once if there are some,
    /// else after waiting for one or for the timeout.
    ///
    /// A session's poll joins it to the rooms it names (it counts as present), under the limits every
    /// transport has. A poll without a session only reads: it creates no room, and waits on a room that
    /// does not exist yet as on any other.
    public func poll(_ request: PollRequest) async throws(HubError) -> PollResult {
        statistics.pollRequested()
        let connection = request.connection
        connection.activePolls.add(1, ordering: .relaxed)
        connection.markPolled(request.rooms, delta: 1)
        defer {
            // The session timeout runs from when the last poll arrived, so a client that went away mid-poll
            // is gone `pollSessionTimeout` after that poll began. A poll that outlasted the timeout leaves
            // the client a short grace after its answer to poll again (set before the poll stops counting
            // as active, so the sweep never finds the session idle with the whole poll behind it).
            let timeout = configuration.pollSessionTimeout.nanoseconds
            let grace = min(Hub.pollAnswerGrace.nanoseconds, timeout)
            let now = clock.now()
            connection.markSeen(atLeast: now > timeout - grace ? now - (timeout - grace) : 0)
            connection.markPolled(request.rooms, delta: -1)
            connection.activePolls.subtract(1, ordering: .relaxed)
        }
        try await prepare(request)
        // A pub/sub broker must deliver the rooms' events to this node while the poll waits on them.
        await holdInterest(in: request.rooms)
        let result: Result<PollResult, HubError>
        do {
            result = .success(try await waitAndRead(request))
        } catch {
            result = .failure(error)
        }
        await releaseInterest(in: request.rooms)
        return try result.get()
    }

    /// Reads at once, else waits for an event in one of the rooms (or the timeout) and reads again.
    private func waitAndRead(_ request: PollRequest) async throws(HubError) -> PollResult {
        let timeout = min(max(request.timeout, .zero), configuration.pollMaxTimeout)
        // The deadline is fixed when the poll arrives, before it counts as waiting.
        let deadline = clock.now() &+ timeout.nanoseconds
        let waiter = PollWaiter()
        let key = ObjectIdentifier(waiter)
        // Registered before the first read, so that an event stored in between wakes it.
        let registered = registry.withLock { registry -> Bool in
            let newRooms = request.rooms.filter { registry.pollWaiters[$0] == nil }.count
            // The rooms waited on are bounded like the rooms themselves.
            guard registry.pollWaiters.count + newRooms <= configuration.maxRooms else { return false }
            for room in request.rooms { registry.pollWaiters[room, default: [:]][key] = waiter }
            return true
        }
        defer {
            if registered {
                registry.withLock { registry in
                    for room in request.rooms {
                        guard registry.pollWaiters[room]?.removeValue(forKey: key) != nil else { continue }
                        if registry.pollWaiters[room]?.isEmpty == true { registry.pollWaiters.removeValue(forKey: room) }
                    }
                }
            }
        }

        var result = try await read(request)
        if registered, result.messages.isEmpty, result.gaps.isEmpty, timeout > .zero, !isShuttingDown {
            statistics.pollWaiting.add(1, ordering: .relaxed)
            await waiter.wait(until: deadline, clock: clock)
            statistics.pollWaiting.subtract(1, ordering: .relaxed)
            result = try await read(request)
        }
        return result
    }

    /// Checks the rooms against the limits before anything happens (nothing is created or joined when the
    /// poll names too many), then joins a session to the rooms it does not follow yet (so it counts as
    /// present), or asks the plugins whether a poll without a session may read them.
    private func prepare(_ request: PollRequest) async throws(HubError) {
        guard !request.rooms.isEmpty else { throw HubError(.missingField, "no room to poll") }
        for roomID in request.rooms {
            if let error = RoomName.validate(roomID) { throw error }
        }
        let connection = request.connection
        let registered = self.connection(connection.id) != nil
        let newRooms = registered ? request.rooms.filter { !connection.isSubscribed(to: $0) } : request.rooms
        let following = registered ? connection.rooms.count : 0
        guard following + newRooms.count <= configuration.maxRoomsPerConnection else {
            throw HubError(
                .roomLimit,
                registered
                    ? "a connection may follow at most \(configuration.maxRoomsPerConnection) rooms; this session follows \(following) and the poll adds \(newRooms.count)"
                    : "a poll may name at most \(configuration.maxRoomsPerConnection) rooms, this one names \(newRooms.count)")
        }
        if registered {
            // `join` asks the plugins (and holds to the limits again).
            for roomID in newRooms {
                try await join(connection, room: roomID, replay: Replay.none)
            }
        } else {
            let info = ConnectionInfo(connection)
            for roomID in newRooms {
                if case .deny(let reason) = await hooks.authorizeJoin(info, room: roomID, exists: room(roomID) != nil) {
                    throw HubError(.joinRefused, reason)
                }
            }
        }
    }

    /// Reads what the cursor has not seen yet, across the rooms, oldest first.
    private func read(_ request: PollRequest) async throws(HubError) -> PollResult {
        let batch = max(1, configuration.pollBatchSize)
        var pages: [(room: String, page: HistoryPage, after: EventID?)] = []
        for room in request.rooms {
            let after = request.cursor?.position(for: room)
            do {
                pages.append((room, try await broker.history(room: room, .after(after, limit: batch)), after))
            } catch {
                throw HubError(.unavailable, "history of '\(room)' is unavailable: \(error)")
            }
        }
        var all = pages.flatMap(\.page.events)
        all.sort { ($0.id ?? .zero) < ($1.id ?? .zero) }
        let taken = Array(all.prefix(batch))
        var cursor = Cursor(fallback: request.cursor?.fallback)
        var gaps: [Event] = []
        var hasMore = all.count > batch
        for (room, page, after) in pages {
            hasMore = hasMore || page.hasMore
            if let unknown = request.unknownCursor {
                gaps.append(gapEvent(room: room, after: unknown, oldestRetained: page.oldestRetained))
            } else if page.gap, let after {
                gaps.append(gapEvent(room: room, after: after.description, oldestRetained: page.oldestRetained))
            }
            if let last = taken.last(where: { $0.roomID == room })?.id {
                cursor.set(room, last)
            } else if page.events.isEmpty {
                cursor.set(room, max(page.head, after ?? page.head))
            } else if let after {
                cursor.set(room, after)
            }
        }
        let hooks = self.hooks
        let messages = await visible(taken, to: request.connection, hooks: hooks)
        // Events as stored encode the same for every poll that reads them; a filtered copy is its reader's own.
        let encoded = hooks.filtersDelivery
            ? messages.map { JSONWriter.bytes(.object($0.pollMessage)) } : messages.map { pollMessages.bytes(for: $0) }
        return PollResult(
            messages: messages, cursor: cursor.encoded(for: request.rooms), hasMore: hasMore, gaps: gaps, encodedMessages: encoded)
    }
}
