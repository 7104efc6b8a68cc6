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

    /// One pass of housekeeping at the clock's present time.
    public func sweep() async {
        await sweep(now: clock.now())
    }

    /// How often housekeeping must run for the timeouts to hold: a quarter of the shortest of them, at most
    /// a second (a 1 s heartbeat timeout closes a silent client between 1 and 1.25 s, not 2 s).
    public var sweepInterval: Duration {
        let shortest = min(configuration.heartbeatTimeout, configuration.keepAliveInterval, configuration.pollSessionTimeout)
        return max(.milliseconds(10), min(.seconds(1), shortest / 4))
    }

    /// One pass of housekeeping: closes WebSocket connections silent past the heartbeat timeout, queues
    /// keep-alives on idle SSE streams, ends long-poll sessions that stopped polling, and removes rooms
    /// nobody uses any more (their history expired or was evicted since the last user left).
    public func sweep(now: UInt64) async {
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
        collectUnusedRooms()
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
        let waiters = registry.withLock { registry -> [PollWaiter] in
            defer { registry.pollWaiters.removeAll() }
            return registry.pollWaiters.values.flatMap(\.values)
        }
        for waiter in waiters { waiter.fire() }
        for connection in open {
            if connection.transport == .longPoll {
                await disconnect(connection, reason: .shutdown)
            } else {
                connection.close(.shutdown)
            }
        }
        // Shutdown waits on real sockets, so it runs on real time whatever the hub's clock.
        let started = MonotonicClock.nanoseconds()
        let deadline = started + timeout.nanoseconds
        while MonotonicClock.nanoseconds() < deadline {
            let remaining = connections
            if remaining.isEmpty { break }
            if MonotonicClock.nanoseconds() - started > Self.closeGrace.nanoseconds {
                // Their last writes are stuck behind clients that do not read.
                for connection in remaining { connection.abort() }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        for connection in connections { connection.abort() }
        await broker.shutdown()
    }
}
