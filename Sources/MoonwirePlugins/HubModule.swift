import Logging
import LuaRuntime
import MoonwireCore

/// The `hub` module plugins call. Every function works in every hook, in timers and in `on_load`.
/// Functions that would run other plugins' hooks (publish, kick) do their work after the current call.
enum HubModule {
    static func install(into state: LuaState, context: PluginStateContext) {
        var functions: [(String, LuaHostFunction)] = []
        functions += messaging(context)
        functions += queries(context)
        functions += storage(context)
        functions += logging(context)
        functions += timers(context)
        functions += http(context)
        functions += data()
        functions += text()
        functions.append(("array", LuaState.markArray))
        state.installModule("hub", functions: functions, values: [("null", .null)])
    }

    // MARK: Messaging

    private static func messaging(_ context: PluginStateContext) -> [(String, LuaHostFunction)] {
        [
            ("publish", { call throws(LuaCallError) in
                let room = try call.string(1)
                let type = try call.string(2)
                let data = call.isNil(3) ? JSONValue.object([:]) : try call.json(3)
                let user = try call.optionalString(4) ?? Event.systemUser
                if let error = RoomName.validate(room) { throw LuaCallError("hub.publish: \(error.message)") }
                guard EventType.isValidName(type) else { throw LuaCallError("hub.publish: invalid event type '\(type)'") }
                guard let hub = context.host.hub else { throw LuaCallError("hub.publish: the hub is not running") }
                var event = Event(type: EventType(type), userID: user, roomID: room, data: data)
                event.pluginHops = context.currentHops.load(ordering: .relaxed) + 1
                let publisher = PublisherInfo(connection: nil, transport: .plugin, userID: user, plugin: context.name)
                if context.version.isShadow { return [.bool(true)] }
                return try context.host.publishLater(event, from: publisher, plugin: context.name, on: hub)
            }),
            ("send", { call throws(LuaCallError) in
                let user = try call.string(1)
                return try sendDirect("hub.send", call, typeAt: 2, context) { $0.connections(ofUser: user) }
            }),
            ("broadcast", { call throws(LuaCallError) in
                try sendDirect("hub.broadcast", call, typeAt: 1, context) { $0.connections }
            }),
            ("kick", { call throws(LuaCallError) in
                let user = try call.string(1)
                let reason = try call.optionalString(2) ?? "disconnected by \(context.name)"
                guard let hub = context.host.hub else { return [.int(0)] }
                let count = hub.connections(ofUser: user).count
                if context.version.isShadow { return [.int(Int64(count))] }
                Task { await hub.disconnectUser(user, reason: .kicked(reason)) }
                return [.int(Int64(count))]
            }),
        ]
    }

    /// `hub.send` and `hub.broadcast`: a room-less event from `system` (type at `typeAt`, data after it)
    /// queued now on each of `recipients` except long-poll sessions, which only read room history. A shadow
    /// version queues nothing. Returns how many connections it reached.
    private static func sendDirect(
        _ name: String, _ call: LuaCall, typeAt index: Int, _ context: PluginStateContext, to recipients: (Hub) -> [Connection]
    ) throws(LuaCallError) -> [LuaValue] {
        let type = try call.string(index)
        let data = call.isNil(index + 1) ? JSONValue.object([:]) : try call.json(index + 1)
        guard EventType.isValidName(type), !EventType.hubOnly.contains(EventType(type)) else {
            throw LuaCallError("\(name): invalid event type '\(type)'")
        }
        guard let hub = context.host.hub else { return [.int(0)] }
        let encoded = EncodedEvent(Event(type: EventType(type), userID: Event.systemUser, roomID: nil, data: data))
        var sent = 0
        for connection in recipients(hub) where connection.transport != .longPoll {
            if context.version.isShadow || connection.enqueue(.event(encoded)) { sent += 1 }
        }
        return [.int(Int64(sent))]
    }

    // MARK: Queries

    private static func queries(_ context: PluginStateContext) -> [(String, LuaHostFunction)] {
        [
            ("rooms", { _ throws(LuaCallError) in
                guard let hub = context.host.hub else { return [.json([])] }
                return [.json(.array(hub.rooms.map { .string($0.id) }))]
            }),
            ("presence", { call throws(LuaCallError) in
                let room = try call.string(1)
                guard let hub = context.host.hub, let entries = try? hub.presence(of: room) else { return [.json([])] }
                return [.json(.array(entries.map { entry in
                    [
                        "user_id": .string(entry.userID), "connections": .int(Int64(entry.connections)),
                        "transports": .array(entry.transports.map { .string($0) }), "metadata": .object(entry.metadata),
                    ]
                }))]
            }),
            ("history", { call throws(LuaCallError) in
                let room = try call.string(1)
                let limit = call.isNil(2) ? 20 : Int(try call.integer(2))
                guard let hub = context.host.hub else { return [.json([])] }
                let count = max(0, min(limit, 10_000))
                if hub.broker.historyWaitsForIO, call.canSuspend {
                    let broker = hub.broker
                    return try call.suspend(PluginWait { _ in
                        let events = (try? await broker.history(room: room, .latest(count)).events) ?? []
                        return .values([.json(.array(events.map { .object($0.pluginTable) }))])
                    })
                }
                let events = hub.broker.recentHistory(room: room, count: count) ?? []
                return [.json(.array(events.map { .object($0.pluginTable) }))]
            }),
            ("stats", { _ throws(LuaCallError) in
                guard let hub = context.host.hub else { return [.json([:])] }
                let snapshot = hub.statistics.snapshot()
                var connections = JSONObject()
                for kind in [TransportKind.webSocket, .sse, .longPoll] {
                    connections[kind.rawValue] = .int(Int64(snapshot.activeConnections[kind] ?? 0))
                }
                return [.json([
                    "connections": .object(connections),
                    "rooms": .int(Int64(hub.rooms.count)),
                    "events_published": .int(Int64(snapshot.eventsPublished)),
                    "events_delivered": .int(Int64(snapshot.eventsDelivered)),
                    "messages_sent": .int(Int64(snapshot.messagesSent)),
                    "poll_requests": .int(Int64(snapshot.pollRequests)),
                    "errors_sent": .int(Int64(snapshot.errorsSent)),
                    "memory": ["rss_bytes": ProcessMemory.residentBytes().map { .int(Int64($0)) } ?? .null],
                    "latency": .object(hub.statistics.publishLatency.summaryNow().jsonObject),
                    "top_rooms": .array(hub.busiestRooms(10).map { ["room_id": .string($0.id), "users": .int(Int64($0.userCount))] }),
                    "recent": .array(hub.statistics.recentEvents.entries().map { entry in
                        [
                            "seq": .int(Int64(entry.sequence)), "event_type": .string(entry.type), "room_id": .string(entry.roomID),
                            "user_id": .string(entry.userID), "at": .double(entry.timestamp),
                        ]
                    }),
                ])]
            }),
            ("now", { _ throws(LuaCallError) in [.double(Timestamp.now().seconds)] }),
        ]
    }

    // MARK: Store

    private static func storage(_ context: PluginStateContext) -> [(String, LuaHostFunction)] {
        let store = context.host.store
        let plugin = context.name
        let dryRun = context.version.isShadow
        /// A `ttl` is at most ten years.
        let maxTTL: ClosedRange<Double> = 0...315_360_000
        /// Runs a store call: waiting for it without holding the thread when the store waits for I/O and
        /// the call may wait, else at once. A failure (quota, Redis unreachable) is a Lua error in the plugin.
        func perform(
            _ name: String, _ call: LuaCall, now: () throws -> [LuaValue], waiting: @escaping @Sendable (UInt64) async throws -> [LuaValue]
        ) throws(LuaCallError) -> [LuaValue] {
            if store.waitsForIO, call.canSuspend {
                return try call.suspend(PluginWait { deadline in
                    do {
                        return .values(try await waiting(deadline))
                    } catch {
                        return .failure("hub.\(name): \(error)")
                    }
                })
            }
            do {
                return try now()
            } catch {
                throw LuaCallError("hub.\(name): \(error)")
            }
        }
        return [
            ("store.get", { call throws(LuaCallError) in
                let key = try call.string(1)
                return try perform(
                    "store.get", call, now: { try store.get(plugin, key).map { [.json($0)] } ?? [] },
                    waiting: { try await store.get(plugin, key, deadline: $0).map { [.json($0)] } ?? [] })
            }),
            ("store.set", { call throws(LuaCallError) in
                let key = try call.string(1)
                let value = call.isNil(2) ? nil : try call.json(2)
                let ttl = call.isNil(3) ? nil : try call.number(3, in: maxTTL)
                if dryRun { return [] }
                return try perform(
                    "store.set", call, now: { try store.set(plugin, key, value, ttl: ttl) ; return [] },
                    waiting: { try await store.set(plugin, key, value, ttl: ttl, deadline: $0) ; return [] })
            }),
            ("store.delete", { call throws(LuaCallError) in
                let key = try call.string(1)
                if dryRun { return [] }
                return try perform(
                    "store.delete", call, now: { try store.set(plugin, key, nil, ttl: nil) ; return [] },
                    waiting: { try await store.set(plugin, key, nil, ttl: nil, deadline: $0) ; return [] })
            }),
            ("store.incr", { call throws(LuaCallError) in
                let key = try call.string(1)
                let by: JSONValue = call.isNil(2) ? .int(1) : try call.numberValue(2)
                let ttl = call.isNil(3) ? nil : try call.number(3, in: maxTTL)
                if dryRun {
                    // What the increment would return, read from the live plugin's value, not written.
                    return try perform(
                        "store.incr", call, now: { [.json(try PluginStore.sum(try store.get(plugin, key), by))] },
                        waiting: { [.json(try PluginStore.sum(try await store.get(plugin, key, deadline: $0), by))] })
                }
                return try perform(
                    "store.incr", call, now: { [.json(try store.increment(plugin, key, by: by, ttl: ttl))] },
                    waiting: { [.json(try await store.increment(plugin, key, by: by, ttl: ttl, deadline: $0))] })
            }),
            ("store.keys", { call throws(LuaCallError) in
                try perform(
                    "store.keys", call, now: { [.json(.array(try store.keys(plugin).map { .string($0) }))] },
                    waiting: { [.json(.array(try await store.keys(plugin, deadline: $0).map { .string($0) }))] })
            }),
        ]
    }

    // MARK: Logging

    private static func logging(_ context: PluginStateContext) -> [(String, LuaHostFunction)] {
        func logger(_ level: Logger.Level) -> LuaHostFunction {
            { call throws(LuaCallError) in
                var parts: [String] = []
                for index in 1...max(1, call.count) where index <= call.count {
                    let value = try call.json(index)
                    parts.append(value.stringValue ?? JSONWriter.string(value))
                }
                context.host.logger.log(level: level, "\(parts.joined(separator: " "))", metadata: ["plugin": "\(context.name)"])
                return []
            }
        }
        return [
            ("log.debug", logger(.debug)), ("log.info", logger(.info)), ("log.warn", logger(.warning)), ("log.error", logger(.error)),
        ]
    }

    // MARK: Timers

    private static func timers(_ context: PluginStateContext) -> [(String, LuaHostFunction)] {
        func schedule(repeats: Bool) -> LuaHostFunction {
            { call throws(LuaCallError) in
                let seconds = try call.number(1)
                guard seconds >= 0.01, seconds <= 86_400 * 7 else {
                    throw LuaCallError("\(call.name): interval must be between 0.01 and 604800 seconds")
                }
                let host = context.host
                let name = try call.optionalString(3)
                let starts = context.startsTimers.load(ordering: .relaxed)
                let active =
                    starts ? context.pendingTimerCount + (context.plugin.map { host.timers.count(of: $0) } ?? 0) : context.skippedTimers.load(ordering: .relaxed)
                guard active < host.options.maxTimers else {
                    throw LuaCallError(
                        "\(call.name): the plugin has its maximum of \(host.options.maxTimers) timers (plugins.max_timers); cancel one first")
                }
                guard starts else {
                    // The first state of the pool ran the same code and started this timer.
                    try call.expectFunction(2)
                    context.skippedTimers.add(1, ordering: .relaxed)
                    return [.int(Int64(host.timers.makeID()))]
                }
                let function = try call.function(2)
                let request = PluginTimers.Request(
                    id: host.timers.makeID(), function: function, interval: .milliseconds(Int64(seconds * 1000)),
                    repeats: repeats, name: name, state: context.index)
                return [.int(Int64(context.schedule(request)))]
            }
        }
        return [
            ("every", schedule(repeats: true)),
            ("after", schedule(repeats: false)),
            ("cancel", { call throws(LuaCallError) in
                let id = Int(try call.integer(1))
                return [.bool(context.cancelPending(id) || context.host.timers.cancel(id, of: context.name))]
            }),
        ]
    }
}
