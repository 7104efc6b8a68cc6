extension Hub {
    /// Whether events of `type` are stored in history, and the rules of a plugin-defined type.
    public func storagePolicy(for type: EventType) -> (stored: Bool, custom: CustomEventType?) {
        switch type {
        case .typing, .userJoined, .userLeft, .heartbeat, .error, .gap, .ack, .presence, .presenceDiff: return (false, nil)
        case .message, .notification: return (true, nil)
        default:
            let custom = hooks.eventType(type)
            return (custom?.stored ?? true, custom)
        }
    }

    /// Publishes an event on behalf of a connection or a server-side caller: checks the type and room,
    /// runs the publish hooks, stores it if its type is stored, and delivers it to every subscriber of the
    /// room on every transport. Returns the event as delivered (with its id if stored).
    ///
    /// - Parameter requireKnownType: clients may only send built-in and plugin-registered types;
    ///   server-side callers may publish any well-formed type (stored).
    public func publish(_ event: Event, from publisher: PublisherInfo, requireKnownType: Bool) async throws(HubError) -> Event {
        var event = event
        if isShuttingDown {
            throw HubError(.shuttingDown, "server shutting down")
        }
        if EventType.hubOnly.contains(event.type) {
            throw HubError(.notAllowed, "event type '\(event.type)' is sent by the hub only")
        }
        guard EventType.isValidName(event.type.rawValue) else {
            throw HubError(.unknownEventType, "invalid event type '\(event.type.rawValue.prefix(64))'")
        }
        let (stored, custom) = storagePolicy(for: event.type)
        let builtIn = event.type == .message || event.type == .typing || event.type == .notification
        if !builtIn {
            if let custom {
                if requireKnownType, !custom.clientsMaySend {
                    throw HubError(.notAllowed, "event type '\(event.type)' is sent by plugins only")
                }
                if let problem = await custom.validate(event.data) {
                    throw HubError(.invalidField, "invalid data for '\(event.type)': \(problem)")
                }
            } else if requireKnownType {
                throw HubError(.unknownEventType, "unknown event type '\(event.type)'")
            }
        }
        guard let roomID = event.roomID else {
            throw HubError(.missingField, "missing field 'room_id' for '\(event.type)'")
        }
        if let connection = publisher.connection {
            if let error = RoomName.validate(roomID) { throw error }
            guard self.connection(connection.id)?.isSubscribed(to: roomID) == true else {
                throw HubError(.notInRoom, "join room '\(roomID)' before sending to it")
            }
            event.origin = connection.id
        } else if let error = RoomName.validate(roomID) {
            throw error
        }
        event.userID = publisher.userID
        event.id = nil
        event.timestamp = .now()
        let size = event.jsonBytes.count
        if size > configuration.maxEventBytes {
            throw HubError(.payloadTooLarge, "event of \(size) bytes is over the limit of \(configuration.maxEventBytes) bytes")
        }
        switch await hooks.filterPublish(event, from: publisher) {
        case .pass(var passed):
            passed.id = nil
            passed.roomID = roomID
            passed.origin = event.origin
            event = passed
        case .drop:
            statistics.dropped("plugin_drop")
            return event
        case .reject(let reason, let code):
            statistics.dropped("plugin_reject")
            throw HubError(code.flatMap(HubError.Code.init(rawValue:)) ?? .rejected, reason)
        }
        let finalSize = event.jsonBytes.count
        if finalSize > configuration.maxEventBytes {
            throw HubError(.payloadTooLarge, "event of \(finalSize) bytes (after plugins) is over the limit of \(configuration.maxEventBytes) bytes")
        }
        // A server-side publish creates the room; a connection's room exists (it is in it). Either way the
        // room is held until the event is stored, so that it is not removed in between.
        let room: Room
        do throws(HubError) {
            room = try holdRoom(roomID, create: publisher.connection == nil)
        } catch where error.code == .roomNotFound {
            throw HubError(.notInRoom, "join room '\(roomID)' before sending to it")
        }
        defer { release(room) }
        let published: Event
        do {
            published = try await broker.publish(event, store: stored)
        } catch let error as HubError {
            throw error
        } catch {
            logger.error("publish failed", metadata: ["room": "\(roomID)", "error": "\(error)"])
            throw HubError(.unavailable, "publish failed: \(error)")
        }
        statistics.published(published)
        if published.isStored { await hooks.didStore(published) }
        return published
    }

    /// Publishes an event a client sent over HTTP (not on its WebSocket): the same rules as a client frame
    /// (known types only), but membership was checked by the caller and `origin` may name the client's
    /// stream so it is not echoed there.
    public func publishFromClient(_ event: Event, from publisher: PublisherInfo) async throws(HubError) -> Event {
        if event.type == .message || event.type == .typing, event.data.objectValue == nil {
            throw HubError(.invalidField, "'data' of '\(event.type)' must be an object")
        }
        return try await publish(event, from: publisher, requireKnownType: true)
    }

    /// Publishes the same event to several rooms (server API). Returns one result per room, in order.
    public func broadcast(_ event: Event, rooms: [String], from publisher: PublisherInfo) async -> [Result<Event, HubError>] {
        statistics.broadcasts.add(1, ordering: .relaxed)
        var results: [Result<Event, HubError>] = []
        for room in rooms {
            var copy = event
            copy.roomID = room
            do {
                results.append(.success(try await publish(copy, from: publisher, requireKnownType: false)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}
