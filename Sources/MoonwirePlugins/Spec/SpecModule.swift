import LuaRuntime
import MoonwireCore

/// The host side of the `test` module of spec files: hubs, connections, the clock, the store. Each
/// function that works with the hub waits for it (the test's coroutine is suspended) and then for the
/// plugins to settle (timers due, publishes queued). The Lua side (`SpecPrelude`) wraps them in objects.
enum SpecModule {
    /// What a refused call returns: `nil`, the error's code, its message.
    static func failure(_ error: HubError) -> [LuaValue] { [.nilValue, .string(error.code.rawValue), .string(error.message)] }

    /// An event as specs (and plugins) see it.
    static func table(_ event: Event) -> LuaValue { .json(.object(event.pluginTable)) }

    static func functions(_ session: SpecSession) -> [(String, LuaHostFunction)] {
        /// Runs `work` on the hub `hubID`, waits for the plugins to settle, and returns what `work` returned.
        func waiting(_ call: LuaCall, _ hubID: Int, _ work: @escaping @Sendable (SpecHub) async -> [LuaValue]) throws(LuaCallError) -> [LuaValue] {
            let hub = try session.hub(hubID)
            guard call.canSuspend else { throw LuaCallError("\(call.name): call it from inside it(...) (not from describe or a coroutine of your own)") }
            return try call.suspend(PluginWait { _ in
                let values = await work(hub)
                await hub.settle()
                return .values(values)
            })
        }

        return [
            ("_hub", { call throws(LuaCallError) in
                let options = call.isNil(1) ? JSONObject() : (try call.json(1)).objectValue ?? [:]
                var plugins: Set<String> = [session.spec.pluginName]
                if case .array(let names)? = options["plugins"] { plugins = Set(names.compactMap(\.stringValue)) }
                var settings: [String: JSONObject] = [:]
                if case .object(let byPlugin)? = options["settings"] {
                    for (name, value) in byPlugin { settings[name] = value.objectValue ?? [:] }
                }
                let states = Int(options["states"]?.intValue ?? 2)
                let hub = try SpecHub(directory: session.spec.directory, plugins: plugins, settings: settings, states: max(1, min(states, 8)))
                return [.int(Int64(session.add(hub)))]
            }),
            ("_connect", { call throws(LuaCallError) in
                let hubID = Int(try call.integer(1))
                let user = try call.string(2)
                let options = call.isNil(3) ? JSONObject() : (try call.json(3)).objectValue ?? [:]
                return try waiting(call, hubID) { spec in
                    var headers: [String: String] = [:]
                    for (name, value) in options["headers"]?.objectValue ?? [:] { headers[name.lowercased()] = value.stringValue }
                    let request = ConnectRequest(
                        transport: TransportKind(rawValue: options["transport"]?.stringValue ?? "websocket") ?? .webSocket,
                        remoteAddress: options["remote_address"]?.stringValue ?? "127.0.0.1", headers: headers,
                        claimedUserID: user, metadata: options["metadata"]?.objectValue ?? [:], token: options["token"]?.stringValue)
                    let identity: Identity
                    switch await spec.hub.authenticate(request) {
                    case .success(let allowed): identity = allowed
                    case .failure(let error): return SpecModule.failure(error)
                    }
                    let connection: Connection
                    do throws(HubError) {
                        connection = try spec.hub.connect(identity: identity, transport: request.transport, remoteAddress: request.remoteAddress)
                    } catch {
                        return SpecModule.failure(error)
                    }
                    let rooms = options["rooms"]?.arrayValue?.compactMap(\.stringValue) ?? [RoomName.general]
                    for room in rooms {
                        do throws(HubError) {
                            try await spec.hub.join(connection, room: room, replay: Replay.none)
                        } catch {
                            await spec.hub.disconnect(connection, reason: .clientClosed)
                            return SpecModule.failure(error)
                        }
                    }
                    _ = connection.takeQueued()  // the spec reads what arrives after it is in
                    return [.int(Int64(spec.add(connection))), .json(.object(ConnectionInfo(connection).pluginTable))]
                }
            }),
            ("_join", { call throws(LuaCallError) in
                let hubID = Int(try call.integer(1))
                let connection = try session.hub(hubID).connection(Int(try call.integer(2)))
                let room = try call.string(3)
                return try waiting(call, hubID) { spec in
                    do throws(HubError) {
                        try await spec.hub.join(connection, room: room, replay: Replay.none)
                        return [.bool(true)]
                    } catch {
                        return SpecModule.failure(error)
                    }
                }
            }),
            ("_leave", { call throws(LuaCallError) in
                let hubID = Int(try call.integer(1))
                let connection = try session.hub(hubID).connection(Int(try call.integer(2)))
                let room = try call.string(3)
                return try waiting(call, hubID) { spec in
                    await spec.hub.leave(connection, room: room)
                    return [.bool(true)]
                }
            }),
            ("_disconnect", { call throws(LuaCallError) in
                let hubID = Int(try call.integer(1))
                let connection = try session.hub(hubID).connection(Int(try call.integer(2)))
                return try waiting(call, hubID) { spec in
                    await spec.hub.disconnect(connection, reason: .clientClosed)
                    return [.bool(true)]
                }
            }),
            ("_send", { call throws(LuaCallError) in
                let hubID = Int(try call.integer(1))
                let connection = try session.hub(hubID).connection(Int(try call.integer(2)))
                let type = try call.string(3)
                let data = call.isNil(4) ? JSONValue.object([:]) : try call.json(4)
                let room = try call.optionalString(5) ?? RoomName.general
                return try waiting(call, hubID) { spec in
                    let event = Event(type: EventType(type), userID: connection.userID, roomID: room, data: data)
                    let publisher = PublisherInfo(connection: ConnectionInfo(connection), transport: connection.transport, userID: connection.userID)
                    do throws(HubError) {
                        return [SpecModule.table(try await spec.hub.publishFromClient(event, from: publisher))]
                    } catch {
                        return SpecModule.failure(error)
                    }
                }
            }),
            ("_publish", { call throws(LuaCallError) in
                let hubID = Int(try call.integer(1))
                let room = try call.string(2)
                let type = try call.string(3)
                let data = call.isNil(4) ? JSONValue.object([:]) : try call.json(4)
                let user = try call.optionalString(5) ?? Event.systemUser
                return try waiting(call, hubID) { spec in
                    let event = Event(type: EventType(type), userID: user, roomID: room, data: data)
                    do throws(HubError) {
                        let published = try await spec.hub.publish(
                            event, from: PublisherInfo(connection: nil, transport: .http, userID: user, trusted: true), requireKnownType: false)
                        return [SpecModule.table(published)]
                    } catch {
                        return SpecModule.failure(error)
                    }
                }
            }),
            ("_advance", { call throws(LuaCallError) in
                let hubID = Int(try call.integer(1))
                let seconds = try call.number(2, in: 0...31_536_000)
                return try waiting(call, hubID) { spec in
                    spec.clock.advance(by: .nanoseconds(Int64(seconds * 1e9)))
                    return []
                }
            }),
            ("_received", { call throws(LuaCallError) in
                let connection = try session.hub(Int(try call.integer(1))).connection(Int(try call.integer(2)))
                var events: [JSONValue] = []
                while let batch = connection.takeQueued() {
                    for item in batch { if case .event(let encoded) = item { events.append(.object(encoded.event.pluginTable)) } }
                }
                return [.json(.array(events))]
            }),
            ("_closed", { call throws(LuaCallError) in
                let connection = try session.hub(Int(try call.integer(1))).connection(Int(try call.integer(2)))
                guard let reason = connection.closeReason else { return [.nilValue] }
                return [.string(reason.code), .string(reason.message)]
            }),
            ("_store", { call throws(LuaCallError) in
                let hub = try session.hub(Int(try call.integer(1)))
                let plugin = try call.string(2)
                let key = try call.string(3)
                do {
                    return [try hub.host.store.get(plugin, key).map { .json($0) } ?? .nilValue]
                } catch {
                    throw LuaCallError("test: the store failed: \(error)")
                }
            }),
            ("_history", { call throws(LuaCallError) in
                let hubID = Int(try call.integer(1))
                let room = try call.string(2)
                let count = call.isNil(3) ? 100 : Int(try call.integer(3))
                return try waiting(call, hubID) { spec in
                    let events = (try? await spec.hub.broker.history(room: room, .latest(max(0, min(count, 10_000)))).events) ?? []
                    return [.json(.array(events.map { .object($0.pluginTable) }))]
                }
            }),
            ("_show", { call throws(LuaCallError) in
                if let value = try? call.json(1) { return [.string(JSONWriter.string(value))] }
                return [.string("(a value that is not JSON)")]
            }),
        ]
    }
}
