extension Hub {
    /// Handles one text frame from a connection: heartbeats, joins and leaves, and events to publish.
    /// Anything wrong gets an `error` event naming the problem; the connection stays open.
    public func receive(_ frame: [UInt8], from connection: Connection) async {
        connection.markSeen()
        statistics.framesProcessed.add(1, ordering: .relaxed)
        guard frame.count <= configuration.maxFrameBytes else {
            reject(
                HubError(.frameTooLarge, "frame of \(frame.count) bytes is over the limit of \(configuration.maxFrameBytes) bytes"),
                to: connection)
            return
        }
        let parsed: ClientFrame
        switch ClientFrame.parse(frame, parser: parser) {
        case .success(let value): parsed = value
        case .failure(let error):
            reject(error, to: connection)
            return
        }
        do {
            try await handle(parsed, from: connection)
        } catch {
            var error = error
            error.ref = parsed.ref
            reject(error, to: connection, room: parsed.roomID)
        }
    }

    private func handle(_ frame: ClientFrame, from connection: Connection) async throws(HubError) {
        switch frame.type {
        case .heartbeat:
            var data: JSONObject = ["pong": true]
            if let ref = frame.ref { data["ref"] = ref }
            connection.send(Event(type: .heartbeat, userID: Event.systemUser, roomID: nil, data: .object(data)))

        case .userJoined:
            let room = try roomArgument(frame)
            var replay: Replay?
            if let since = frame.data["since"] ?? frame.data["last_event_id"], !since.isNull {
                guard let id = Self.eventID(from: since) else {
                    throw HubError(.invalidField, "'data.since' must be an event id")
                }
                replay = .resume(after: id)
            }
            try await join(connection, room: room, replay: replay)
            acknowledge(frame, to: connection, room: room, eventID: nil)

        case .userLeft:
            let room = try roomArgument(frame)
            guard connection.isSubscribed(to: room) else {
                throw HubError(.notInRoom, "not in room '\(room)'")
            }
            await leave(connection, room: room)
            acknowledge(frame, to: connection, room: room, eventID: nil)

        case .presence:
            let room = try roomArgument(frame)
            guard connection.isSubscribed(to: room) else { throw HubError(.notInRoom, "join room '\(room)' to see who is there") }
            var data = await clusterPresenceData(room, page: try Self.presencePage(frame.data))
            if let ref = frame.ref { data["ref"] = ref }
            connection.send(Event(type: .presence, userID: Event.systemUser, roomID: room, data: .object(data)))

        case .notification:
            throw HubError(.notAllowed, "clients may not send 'notification'; publish it through the server API")

        default:
            if frame.type == .message || frame.type == .typing, frame.data.objectValue == nil {
                throw HubError(.invalidField, "'data' of '\(frame.type)' must be an object")
            }
            let event = Event(type: frame.type, userID: connection.userID, roomID: frame.roomID, data: frame.data)
            let publisher = PublisherInfo(connection: ConnectionInfo(connection), transport: connection.transport, userID: connection.userID)
            let published = try await publish(event, from: publisher, requireKnownType: true)
            acknowledge(frame, to: connection, room: frame.roomID, eventID: published.id, event: published.isStored ? published : nil)
        }
    }

    /// The room named by a join or leave frame: `data.room_id` (the seed), else the frame's `room_id`.
    private func roomArgument(_ frame: ClientFrame) throws(HubError) -> String {
        switch frame.data["room_id"] {
        case .string(let room)?:
            if let error = RoomName.validate(room) { throw error }
            return room
        case .none, .null?:
            if let room = frame.roomID {
                if let error = RoomName.validate(room) { throw error }
                return room
            }
            throw HubError(.missingField, "missing field 'data.room_id'")
        case let other?:
            throw HubError(.invalidField, "'data.room_id' must be a string, got \(other.typeName)")
        }
    }

    /// The page a `presence` frame asks for: `data.after` (a user id) and `data.limit`.
    static func presencePage(_ data: JSONValue) throws(HubError) -> PresencePage {
        var page = PresencePage()
        switch data["after"] {
        case .none, .null?: break
        case .string(let after)?: page.after = after
        case let other?: throw HubError(.invalidField, "'data.after' must be a user id, got \(other.typeName)")
        }
        switch data["limit"] {
        case .none, .null?: break
        case let value? where (value.intValue ?? 0) >= 1: page.limit = Int(min(value.intValue!, 1_000_000))
        case let other?: throw HubError(.invalidField, "'data.limit' must be a positive integer, got \(JSONWriter.string(other).prefix(32))")
        }
        return page
    }

    /// Reads an event id given as a string or a number.
    static func eventID(from value: JSONValue) -> EventID? {
        switch value {
        case .string(let text): return text.isEmpty ? .zero : EventID(text)
        case .int(let int): return int >= 0 ? EventID(int) : nil
        default: return nil
        }
    }

    /// Confirms a frame that carried a `ref`; for a stored event, with the event as stored (plugins may
    /// have changed its data).
    private func acknowledge(_ frame: ClientFrame, to connection: Connection, room: String?, eventID: EventID?, event: Event? = nil) {
        guard let ref = frame.ref else { return }
        var data: JSONObject = ["ref": ref, "event_type": .string(frame.type.rawValue)]
        if let eventID { data["event_id"] = .string(eventID.description) }
        if let event { data["event"] = .object(event.wireObject) }
        connection.send(Event(type: .ack, userID: Event.systemUser, roomID: room, data: .object(data)))
    }

    /// Sends an `error` event to the connection.
    public func reject(_ error: HubError, to connection: Connection, room: String? = nil) {
        statistics.errorsSent.add(1, ordering: .relaxed)
        logger.debug("frame rejected", metadata: ["connection": "\(connection.id)", "code": "\(error.code.rawValue)", "message": "\(error.message)"])
        connection.send(.error(error, roomID: room, ref: error.ref))
    }
}
