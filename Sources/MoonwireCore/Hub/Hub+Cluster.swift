/// What the hub does for brokers shared by several nodes: room interest for long-polls, presence counted
/// over every node, and the announcements for users whose node went away. With the embedded broker all of
/// it reduces to the single-node behaviour (`LocalPresenceStore`, no-op subscriptions).
extension Hub {
    /// Where presence is counted: the broker's shared store, else this node's rooms.
    var presenceStore: any PresenceStore {
        broker.presence ?? LocalPresenceStore()
    }

    // MARK: Interest

    /// Registers interest in `rooms` for the duration of a long-poll, so that a pub/sub broker delivers
    /// their events to this node (and wakes the poll).
    func holdInterest(in rooms: [String]) async {
        for room in rooms {
            do {
                try await broker.subscribe(room: room)
            } catch {
                logger.warning("subscribing to a room failed", metadata: ["room": "\(room)", "error": "\(error)"])
            }
        }
    }

    /// Releases what `holdInterest(in:)` took.
    func releaseInterest(in rooms: [String]) async {
        for room in rooms {
            try? await broker.unsubscribe(room: room)
        }
    }

    // MARK: Presence

    /// What this node holds of `user` in `room` now (`nil`: no connection).
    func localPresenceDetail(of user: String, in roomID: String) -> PresenceDetail? {
        guard let room = room(roomID) else { return nil }
        return room.state.withLock { state -> PresenceDetail? in
            guard let connections = state.members[user], let any = connections.values.first else { return nil }
            return PresenceDetail(
                connections: connections.count,
                transports: Set(connections.values.map(\.transport.rawValue)).sorted(),
                metadata: any.identity.metadata)
        }
    }

    /// Records a join in the presence store; true when `user_joined` is to be announced.
    func presenceJoined(_ connection: Connection, room: String, firstHere: Bool) async -> Bool {
        guard let store = broker.presence else { return firstHere }
        let detail =
            localPresenceDetail(of: connection.userID, in: room)
            ?? PresenceDetail(connections: 1, transports: [connection.transport.rawValue], metadata: connection.identity.metadata)
        do {
            return try await store.join(room: room, user: connection.userID, detail: detail, firstHere: firstHere)
        } catch {
            logger.warning("presence not shared", metadata: ["room": "\(room)", "user": "\(connection.userID)", "error": "\(error)"])
            return firstHere
        }
    }

    /// Records a leave in the presence store; true when `user_left` is to be announced.
    func presenceLeft(_ connection: Connection, room: String, lastHere: Bool) async -> Bool {
        guard let store = broker.presence else { return lastHere }
        let remaining = lastHere ? nil : localPresenceDetail(of: connection.userID, in: room)
        do {
            return try await store.leave(room: room, user: connection.userID, remaining: remaining)
        } catch {
            logger.warning("presence not shared", metadata: ["room": "\(room)", "user": "\(connection.userID)", "error": "\(error)"])
            return lastHere
        }
    }

    /// A room's users over every node sharing the broker's presence (this node's alone otherwise).
    public func clusterPresence(of roomID: String) async throws(HubError) -> [PresenceEntry] {
        let local = (try? presence(of: roomID)) ?? []
        guard let store = broker.presence else {
            if room(roomID) == nil { throw HubError(.roomNotFound, "room '\(roomID)' does not exist") }
            return local
        }
        do {
            return try await store.members(room: roomID, local: local)
        } catch {
            throw HubError(.unavailable, "presence of '\(roomID)' is unavailable: \(error)")
        }
    }

    /// Whether `userID` has a connection in `room` on this node or, with shared presence, on any node
    /// (a long-poll client may publish through a node other than the one it polls).
    public func isPresentOnAnyNode(_ userID: String, in room: String) async -> Bool {
        if isPresent(userID, in: room) { return true }
        guard let store = broker.presence else { return false }
        return (try? await store.isPresent(user: userID, room: room)) ?? false
    }

    /// `presenceData(_:page:)` over every node.
    public func clusterPresenceData(_ room: String, page: PresencePage = PresencePage()) async -> JSONObject {
        do {
            return presenceAnswer(room: room, entries: try await clusterPresence(of: room), page: page)
        } catch {
            return presenceData(room, page: page)
        }
    }

    /// Announces that `user` left `room` for good, on behalf of a node that went away.
    func announceExpired(room: String, user: String) async {
        let event = Event(
            type: .userLeft, userID: user, roomID: room,
            data: ["user_id": .string(user), "room_id": .string(room), "room_name": .string(room), "reason": "expired"])
        do {
            _ = try await broker.publish(event, store: false)
            logger.info("presence expired", metadata: ["room": "\(room)", "user": "\(user)"])
        } catch {
            logger.warning("presence announcement failed", metadata: ["room": "\(room)", "error": "\(error)"])
        }
    }

    /// Every (room, user) present on this node.
    func localPresence() -> [(room: String, user: String, detail: PresenceDetail)] {
        var result: [(room: String, user: String, detail: PresenceDetail)] = []
        for room in rooms {
            room.state.withLock { state in
                for (user, connections) in state.members {
                    guard let any = connections.values.first else { continue }
                    result.append(
                        (room.id, user,
                         PresenceDetail(
                            connections: connections.count,
                            transports: Set(connections.values.map(\.transport.rawValue)).sorted(),
                            metadata: any.identity.metadata)))
                }
            }
        }
        return result
    }
}

extension BrokerSinkAdapter: PresenceHost {
    func localPresence() -> [(room: String, user: String, detail: PresenceDetail)] {
        hub.localPresence()
    }

    func presenceExpired(room: String, user: String) async {
        await hub.announceExpired(room: room, user: user)
    }
}
