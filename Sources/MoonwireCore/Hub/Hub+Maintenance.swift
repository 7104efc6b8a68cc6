extension Hub {
    /// How long a closing connection's last frames may make no progress (a client that stopped reading)
    /// before its socket is dropped.
    public static let closeGrace: Duration = .seconds(2)
    /// How long a closing connection may take at most to flush its last frames, progress or not.
    public static let closeLimit: Duration = .seconds(30)

    /// Whether `connection` is closing and stuck (see `closeGrace`, `closeLimit`).
    func closeIsStuck(_ connection: Connection, now: UInt64) async -> Bool {
        await connection.closeIsStuck(now: now, grace: Self.closeGrace.nanoseconds, limit: Self.closeLimit.nanoseconds)
    }

    /// One pass of housekeeping: closes WebSocket connections silent past the heartbeat timeout, queues
    /// keep-alives on idle SSE streams, and ends long-poll sessions that stopped polling.
    public func sweep(now: UInt64 = MonotonicClock.nanoseconds()) async {
        let heartbeat = configuration.heartbeatTimeout.nanoseconds
        let keepAlive = configuration.keepAliveInterval.nanoseconds
        let sessionTimeout = configuration.pollSessionTimeout.nanoseconds
        var expired: [Connection] = []
        var stale: [(Connection, [String])] = []
        for connection in connections {
            if await closeIsStuck(connection, now: now) {
                // Its last writes are stuck behind a client that does not read: drop the socket.
                connection.abort()
                continue
            }
            switch connection.transport {
            case .webSocket:
                if connection.silence(now: now) > heartbeat, connection.closeReason == nil {
                    logger.info("heartbeat timeout", metadata: ["connection": "\(connection.id)", "user": "\(connection.userID)"])
                    connection.close(.heartbeatTimeout)
                }
            case .sse:
                if connection.idleWriting(now: now) >= keepAlive {
                    connection.enqueue(.keepAlive)
                }
            case .longPoll:
                if connection.activePolls.load(ordering: .relaxed) == 0, connection.silence(now: now) > sessionTimeout {
                    expired.append(connection)
                } else {
                    stale.append((connection, connection.roomsNotPolled(for: sessionTimeout, now: now)))
                }
            case .http, .plugin:
                break
            }
        }
        for connection in expired {
            await disconnect(connection, reason: .sessionExpired)
        }
        // A session still polling, but no longer polling some room, leaves that room.
        for (connection, rooms) in stale {
            for room in rooms where connection.isSubscribed(to: room) {
                await leave(connection, room: room, reason: .sessionExpired)
            }
        }
    }

    /// Begins shutdown: refuses new connections, tells every client (WebSocket close frame, end of SSE stream)
    /// and answers waiting polls. Waits up to `timeout` for streaming connections to finish.
    public func shutdown(timeout: Duration = .seconds(5)) async {
        let first = lifecycle.withLock { state -> Bool in
            defer { state = .shuttingDown }
            return state == .running
        }
        guard first else { return }
        let open = connections
        logger.info("shutting down", metadata: ["connections": "\(open.count)"])
        for room in rooms {
            let waiters = room.state.withLock { state -> [PollWaiter] in
                defer { state.waiters.removeAll() }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.fire() }
        }
        for connection in open {
            if connection.transport == .longPoll {
                await disconnect(connection, reason: .shutdown)
            } else {
                connection.close(.shutdown)
            }
        }
        let deadline = MonotonicClock.nanoseconds() + timeout.nanoseconds
        while MonotonicClock.nanoseconds() < deadline {
            let remaining = connections
            if remaining.isEmpty { break }
            let now = MonotonicClock.nanoseconds()
            for connection in remaining {
                if await closeIsStuck(connection, now: now) { connection.abort() }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        for connection in connections { connection.abort() }
        await broker.shutdown()
    }
}
