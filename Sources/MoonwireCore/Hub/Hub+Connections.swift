extension Hub {
    /// Authenticates a connecting client through the hooks; without an auth plugin the client's claimed
    /// user id is taken (the seed's rule). Either way the user id may not be the hub's own `system` or a
    /// look-alike of it, and the metadata must fit `maxMetadataBytes`.
    public func authenticate(_ request: ConnectRequest) async -> Result<Identity, HubError> {
        let result = await authenticateThroughHooks(request)
        guard case .success(let identity) = result else { return result }
        if let error = Identity.validateClaimedUserID(identity.userID) { return .failure(error) }
        if let error = Identity.validateMetadata(identity.metadata, limit: configuration.maxMetadataBytes) { return .failure(error) }
        return result
    }

    private func authenticateThroughHooks(_ request: ConnectRequest) async -> Result<Identity, HubError> {
        switch await hooks.authenticate(request) {
        case .allow(let identity):
            return .success(identity)
        case .deny(let code, let reason):
            logger.info(
                "connection denied", metadata: ["transport": "\(request.transport.rawValue)", "code": "\(code)", "reason": "\(reason)"])
            return .failure(HubError(HubError.Code(rawValue: code) ?? .authFailed, reason))
        case .noOpinion:
            guard let claimed = request.claimedUserID else {
                return .failure(HubError(.authRequired, "user_id required"))
            }
            return .success(Identity(userID: claimed, metadata: request.metadata))
        }
    }

    /// Registers a new connection for an authenticated identity.
    public func connect(identity: Identity, transport: TransportKind, remoteAddress: String? = nil) throws(HubError) -> Connection {
        let connection = Connection(
            transport: transport, identity: identity, remoteAddress: remoteAddress,
            queueLimit: configuration.outboundQueueBytes, clock: clock)
        let refusal = registry.withLock { registry -> HubError? in
            if lifecycle.withLock({ $0 == .shuttingDown }) {
                return HubError(.shuttingDown, "server shutting down")
            }
            guard registry.connections.count < configuration.maxConnections else {
                return HubError(.connectionLimit, "the hub holds its maximum of \(configuration.maxConnections) connections")
            }
            registry.connections[connection.id] = connection
            registry.byUser[identity.userID, default: []].insert(connection.id)
            return nil
        }
        if let refusal { throw refusal }
        statistics.connectionOpened(transport)
        logger.debug(
            "connected",
            metadata: ["connection": "\(connection.id)", "user": "\(identity.userID)", "transport": "\(transport.rawValue)"])
        return connection
    }

    /// Most rooms the welcome lists (`rooms_total` gives the full count; `/api/rooms` lists them all).
    public static let welcomeRoomLimit = 100

    /// The welcome notification sent when a connection opens, listing the rooms (the seed's shape).
    public func welcome(_ connection: Connection) -> Event {
        let (first, total) = firstRoomIDs(Self.welcomeRoomLimit)
        return Event(
            type: .notification, userID: Event.systemUser, roomID: nil,
            data: [
                "message": .string("Welcome \(connection.userID)!"),
                "rooms": .array(first.map { .string($0) }),
                "rooms_total": .int(Int64(total)),
                "user_id": .string(connection.userID),
                "connection_id": .string(connection.id),
                "heartbeat_timeout": .double(configuration.heartbeatTimeout.seconds),
            ])
    }

    /// Removes a connection: it leaves every room (announced to each room where it was the user's last),
    /// and the hooks hear of it. Safe to call more than once; only the first call acts.
    public func disconnect(_ connection: Connection, reason: DisconnectReason) async {
        let removed = registry.withLock { registry -> Bool in
            guard registry.connections.removeValue(forKey: connection.id) != nil else { return false }
            registry.byUser[connection.userID]?.remove(connection.id)
            if registry.byUser[connection.userID]?.isEmpty == true { registry.byUser.removeValue(forKey: connection.userID) }
            if connection.transport == .longPoll {
                registry.pollSessions = registry.pollSessions.filter { $0.value !== connection }
            }
            return true
        }
        guard removed else { return }
        connection.close(reason)
        for room in connection.rooms {
            await leave(connection, room: room, reason: reason)
        }
        statistics.connectionClosed(connection.transport, reason: reason)
        await hooks.didDisconnect(ConnectionInfo(connection), reason: reason)
        logger.debug(
            "disconnected",
            metadata: ["connection": "\(connection.id)", "user": "\(connection.userID)", "reason": "\(reason.code)"])
    }

    /// Closes every connection of `userID` with `reason`; returns how many there were.
    @discardableResult
    public func disconnectUser(_ userID: String, reason: DisconnectReason) async -> Int {
        let connections = connections(ofUser: userID)
        for connection in connections {
            connection.close(reason)
            if connection.transport == .longPoll {
                await disconnect(connection, reason: reason)
            }
        }
        if !connections.isEmpty {
            logger.info("user disconnected", metadata: ["user": "\(userID)", "connections": "\(connections.count)", "reason": "\(reason.code)"])
        }
        return connections.count
    }

    /// Runs a streaming connection: drains its queue into `transport` until it closes, then removes it.
    /// Returns why it ended.
    @discardableResult
    public func serve<T: Transport>(_ connection: Connection, over transport: inout T) async -> DisconnectReason {
        let reason = await connection.pump(into: &transport)
        await disconnect(connection, reason: reason)
        return reason
    }
}
