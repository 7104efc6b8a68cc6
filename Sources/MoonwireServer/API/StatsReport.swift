import MoonwireCore

/// The JSON of `/api/stats`: the seed's counters from its three servers, plus per-transport detail.
struct StatsReport: Sendable {
    let hub: Hub
    let startedAt: Timestamp

    /// `{kind, healthy, retained_events, ...details}`.
    private func brokerObject(_ broker: BrokerStatistics) -> JSONObject {
        var object: JSONObject = [
            "kind": .string(broker.kind), "healthy": .bool(broker.healthy), "retained_events": .int(Int64(broker.retainedEvents)),
        ]
        for (key, value) in broker.details { object[key] = value }
        return object
    }

    func json() async -> JSONValue {
        let snapshot = hub.statistics.snapshot()
        let broker = await hub.broker.statistics()
        let rooms = hub.rooms
        let streaming: [TransportKind] = [.webSocket, .sse, .longPoll]
        let active = streaming.reduce(0) { $0 + (snapshot.activeConnections[$1] ?? 0) }
        let total = streaming.reduce(0) { $0 + (snapshot.totalConnections[$1] ?? 0) }
        var roomStats = JSONObject()
        for room in rooms { roomStats[room.id] = .int(Int64(room.userCount)) }
        var connections = JSONObject()
        for kind in streaming {
            connections[kind.rawValue] = [
                "active": .int(Int64(snapshot.activeConnections[kind] ?? 0)),
                "total": .int(Int64(snapshot.totalConnections[kind] ?? 0)),
            ]
        }
        func counts(_ dictionary: [String: Int]) -> JSONValue {
            .object(JSONObject(dictionary.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }))
        }
        return [
            // WebSocket server (seed)
            "total_connections": .int(Int64(total)),
            "active_connections": .int(Int64(active)),
            "messages_sent": .int(Int64(snapshot.messagesSent)),
            "rooms_created": .int(Int64(snapshot.roomsCreated)),
            "rooms_removed": .int(Int64(snapshot.roomsRemoved)),
            "events_processed": .int(Int64(snapshot.framesProcessed)),
            "active_rooms": .int(Int64(rooms.count)),
            "room_stats": .object(roomStats),
            // SSE server (seed)
            "events_sent": .int(Int64(snapshot.eventsDelivered)),
            "broadcasts": .int(Int64(snapshot.broadcasts)),
            // Long-poll server (seed)
            "total_messages": .int(Int64(snapshot.eventsPublished)),
            "active_clients": .int(Int64(snapshot.pollWaiting)),
            "poll_requests": .int(Int64(snapshot.pollRequests)),
            "queue_size": .int(Int64(broker.retainedEvents)),
            // Moonwire
            "connections": .object(connections),
            "errors_sent": .int(Int64(snapshot.errorsSent)),
            "publish_latency": .object(hub.statistics.publishLatency.summaryNow().jsonObject),
            "process": ["rss_bytes": ProcessMemory.residentBytes().map { .int(Int64($0)) } ?? .null],
            "drops": counts(snapshot.drops),
            "disconnects": counts(snapshot.disconnects),
            "broker": .object(brokerObject(broker)),
            "uptime_seconds": .double((Timestamp.now().seconds - startedAt.seconds).rounded()),
            "shutting_down": .bool(hub.isShuttingDown),
        ]
    }
}
