/// How a joining connection catches up on a room's history.
public enum Replay: Sendable, Equatable {
    /// The room's most recent events (the seed's 20 on join).
    case recent(Int)
    /// Everything retained after the client's last event id; a `gap` event first if some is lost.
    case resume(after: EventID)
    /// The client sent a position the hub cannot read (an id from another server, say): a `gap` event,
    /// then everything retained.
    case unknownPosition(String)
    /// Nothing: live events only.
    case none
}

extension Hub {
    /// Adds `connection` to `room` (creating the room if needed and allowed), replays history as asked,
    /// and announces the user to the room if this is their first connection in it.
    /// Joining a room the connection already follows does nothing.
    public func join(_ connection: Connection, room roomID: String, replay: Replay? = nil) async throws(HubError) {
        let replay = replay ?? .recent(configuration.replayOnJoin)
        if let error = RoomName.validate(roomID) { throw error }
        if connection.isSubscribed(to: roomID) { return }
        guard connection.rooms.count < configuration.maxRoomsPerConnection else {
            throw HubError(.roomLimit, "a connection may follow at most \(configuration.maxRoomsPerConnection) rooms")
        }
        let exists = self.room(roomID) != nil
        switch await hooks.authorizeJoin(ConnectionInfo(connection), room: roomID, exists: exists) {
        case .deny(let reason):
            throw HubError(.joinRefused, reason)
        case .allow, .noOpinion:
            break
        }
        // Held until the member is added and announced, so that the room is not removed meanwhile.
        let room = try holdRoom(roomID, create: true)
        defer { release(room) }
        guard connection.beginSubscription(roomID) else { return }
        let receivesEvents = connection.transport != .longPoll
        let firstOfUser = room.state.withLock { state in
            state.add(connection, receivesEvents: receivesEvents)
        }
        if receivesEvents {
            // Counted per streaming subscriber (see `Broker.subscribe`); returns once live events flow.
            try? await broker.subscribe(room: roomID)
            await catchUp(connection, room: roomID, replay: replay)
        } else {
            connection.finishReplay(roomID, notice: nil, replay: [], position: nil)
        }
        if await presenceJoined(connection, room: roomID, firstHere: firstOfUser) {
            await announce(.userJoined, user: connection, room: roomID)
        }
        logger.debug("joined", metadata: ["connection": "\(connection.id)", "room": "\(roomID)"])
    }

    /// Reads the history a joining connection needs and queues it, then lets live events through.
    private func catchUp(_ connection: Connection, room: String, replay: Replay) async {
        let request: HistoryRequest
        switch replay {
        case .recent(let count): request = .latest(count)
        case .resume(let after): request = .after(after, limit: configuration.historySize)
        case .unknownPosition: request = .after(nil, limit: configuration.historySize)
        case .none: request = .latest(0)
        }
        do {
            let page = try await broker.history(room: room, request)
            let notice: Event?
            switch replay {
            case .resume(let after) where page.gap:
                notice = gapEvent(room: room, after: after.description, oldestRetained: page.oldestRetained)
            case .unknownPosition(let text):
                notice = gapEvent(room: room, after: text, oldestRetained: page.oldestRetained)
            default:
                notice = nil
            }
            let position = max(page.head, page.events.last?.id ?? page.head)
            let hooks = self.hooks
            let replay = await visible(page.events, to: connection, hooks: hooks).map(EncodedEvent.init)
            connection.finishReplay(room, notice: notice, replay: replay, position: position)
        } catch {
            logger.warning("history unavailable on join", metadata: ["room": "\(room)", "error": "\(error)"])
            let notice = Event.error(HubError(.unavailable, "history of '\(room)' is unavailable: \(error)"), roomID: room)
            connection.finishReplay(room, notice: notice, replay: [], position: nil)
        }
    }

    /// The event telling a client that events after `after` in `room` are no longer retained (or that the
    /// position is unknown to this hub).
    public func gapEvent(room: String, after: String, oldestRetained: EventID?) -> Event {
        let message =
            EventID(after) == nil
            ? "position '\(after.prefix(64))' in '\(room)' is unknown here; replaying everything retained"
            : "events after \(after) in '\(room)' are no longer retained; replaying what is"
        var data: JSONObject = [
            "room_id": .string(room),
            "last_event_id": .string(String(after.prefix(64))),
            "message": .string(message),
        ]
        data["oldest_retained_id"] = oldestRetained.map { .string($0.description) } ?? .null
        return Event(type: .gap, userID: Event.systemUser, roomID: room, data: .object(data))
    }

    /// Removes `connection` from `room`, announcing the user's departure if it was their last connection there.
    /// Throws `notInRoom` if it was not there.
    public func leave(_ connection: Connection, room roomID: String, reason: DisconnectReason? = nil) async {
        guard connection.endSubscription(roomID), let room = self.room(roomID) else { return }
        let (lastOfUser, wasSubscriber) = room.state.withLock { state -> (Bool, Bool) in
            let subscribed = state.isSubscriber(connection)
            return (state.remove(connection), subscribed)
        }
        defer { collect(room) }
        if wasSubscriber {
            try? await broker.unsubscribe(room: roomID)
        }
        if await presenceLeft(connection, room: roomID, lastHere: lastOfUser) {
            await announce(.userLeft, user: connection, room: roomID)
        }
        if lastOfUser {
            await hooks.didLeave(ConnectionInfo(connection), room: roomID, reason: reason)
        }
        logger.debug("left", metadata: ["connection": "\(connection.id)", "room": "\(roomID)"])
    }

    /// Whether `userID` has a connection (of any transport) in `room`.
    public func isPresent(_ userID: String, in room: String) -> Bool {
        guard let room = self.room(room) else { return false }
        return room.state.withLock { $0.members[userID]?.isEmpty == false }
    }

    /// Users present in a room, with their connections' transports.
    public func presence(of roomID: String) throws(HubError) -> [PresenceEntry] {
        guard let room = room(roomID) else { throw HubError(.roomNotFound, "room '\(roomID)' does not exist") }
        return room.members.map { userID, connections in
            PresenceEntry(
                userID: userID,
                connections: connections.count,
                transports: Set(connections.map(\.transport)).map(\.rawValue).sorted(),
                metadata: connections.first?.identity.metadata ?? [:])
        }.sorted { $0.userID < $1.userID }
    }
}

/// One present user of a room.
public struct PresenceEntry: Sendable, Equatable {
    public var userID: String
    public var connections: Int
    public var transports: [String]
    public var metadata: JSONObject

    public init(userID: String, connections: Int, transports: [String], metadata: JSONObject) {
        self.userID = userID
        self.connections = connections
        self.transports = transports
        self.metadata = metadata
    }
}
