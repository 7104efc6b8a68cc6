public import MoonwireCore

extension MoonwireClient {
    /// Follows a room: its events are delivered from now on, after its recent ones (`Options.replay`), or
    /// after `since` when given. Returns once the hub has joined the client to it. Throws the hub's
    /// refusal (`invalid_room`, `join_refused`, `room_limit`, …), and then does not follow the room. While
    /// the client is not connected the room is only added: the next connection joins it.
    public func join(_ room: String, since: EventID? = nil) async throws {
        if let error = RoomName.validate(room) { throw MoonwireError(code: error.code.rawValue, message: error.message) }
        guard phase != .closed else { throw MoonwireError.closedByClient }
        guard roomStates[room] == nil else { return }
        roomOrder.append(room)
        roomStates[room] = RoomState(reached: since)
        guard phase == .open, let transport = active else { return }
        do {
            try await transport.join(room)
        } catch {
            let error = MoonwireError.from(error)
            if Self.isConnectionProblem(error) { return }  // the next connection joins it
            forget(room)
            throw error
        }
    }

    /// Stops following a room. Its position is forgotten (joining it again replays it like a new room, the
    /// client's own events included); events of it still in flight are dropped.
    public func leave(_ room: String) async throws {
        guard roomStates[room] != nil else { return }
        forget(room)
        guard phase == .open, let transport = active else { return }
        do {
            try await transport.leave(room)
        } catch {
            let error = MoonwireError.from(error)
            if Self.isConnectionProblem(error) || error.code == "not_in_room" { return }
            throw error
        }
    }

    func forget(_ room: String) {
        roomOrder.removeAll { $0 == room }
        roomStates[room] = nil
        let prefix = Self.ownKey(room, .zero).dropLast()
        ownIDs = ownIDs.filter { !$0.hasPrefix(prefix) }
        ownOrder.removeAll { $0.hasPrefix(prefix) }
    }

    /// Publishes an event to a room the client follows and returns its id once the hub has accepted it
    /// (over WebSocket the hub's `ack`; over SSE and long-poll the answer of `POST /publish`). `nil` for
    /// an event that is not stored (`typing`, or one a plugin dropped). Throws the hub's refusal
    /// (`unknown_event_type`, `not_in_room`, `rate_limited`, …) or `not_connected`.
    @discardableResult
    public func publish(room: String, type: String = "message", data: JSONValue = .object([:])) async throws -> EventID? {
        guard phase == .open, let transport = active else { throw MoonwireError.notConnected }
        publishing += 1
        let published: PublishedEvent
        do {
            published = try await transport.publish(room: room, type: type, data: data)
        } catch {
            publishDone()
            throw MoonwireError.from(error)
        }
        let id = published.id
        if let id {
            rememberOwn(room, id)
            if options.echo {
                // The event as the hub stored it (plugins may have changed its data).
                let echo = published.event ?? Event(type: EventType(type), userID: identity ?? options.userID ?? "", roomID: room, data: data, id: id)
                held.append(.echo(echo))
            }
        }
        publishDone()
        return id
    }

    private func rememberOwn(_ room: String, _ id: EventID) {
        let key = Self.ownKey(room, id)
        if let delivered = roomStates[room]?.delivered, id <= delivered { return }
        ownIDs.insert(key)
        ownOrder.append(key)
        if ownOrder.count > 1000 {
            ownIDs.remove(ownOrder.removeFirst())
        }
    }

    private func publishDone() {
        publishing -= 1
        guard publishing == 0 else { return }
        let items = held
        held = []
        for item in items {
            switch item {
            case .event(let event): process(event)
            case .echo(let event): emit(.event(event))
            }
        }
    }

    /// Who is in a room the client follows (over WebSocket a `presence` request; else `GET /presence`).
    public func presence(room: String) async throws -> [PresentUser] {
        guard phase == .open, let transport = active else { throw MoonwireError.notConnected }
        do {
            return PresentUser.list(from: try await transport.presence(room))
        } catch {
            throw MoonwireError.from(error)
        }
    }
}
