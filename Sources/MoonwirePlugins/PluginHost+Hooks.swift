import LuaRuntime
import MoonwireCore

/// The hub's hooks, answered by the plugins in priority order. Returning nothing means "no opinion, go on";
/// a verdict stops the chain.
extension PluginHost {
    /// Starts a call of a hook on `plugin`, or on the version that replaced it before the call began, on
    /// this thread: over at once, or waiting for I/O (finish it with `Plugin.finish`).
    func start(
        _ plugin: Plugin, _ hook: PluginHook, results: Int32, hops: Int = 0, _ arguments: (inout PluginVM) -> [LuaValue]
    ) -> Plugin.Start {
        var target = plugin
        for _ in 0..<3 {
            let started = target.start(hook, function: { $0.hooks[hook] }, results: results, hops: hops, arguments)
            guard case .over(.retired) = started else { return started }
            guard let replacement = pluginSet.byName[target.name], replacement !== target, replacement.hooks.contains(hook) else {
                return .over(.done([]))
            }
            target = replacement
        }
        return .over(.done([]))
    }

    /// Calls a hook on `plugin`, or on the version that replaced it before the call began; the call may
    /// wait for I/O (`Plugin.callWaiting`).
    func callWaiting(
        _ plugin: Plugin, _ hook: PluginHook, results: Int32, hops: Int = 0, _ arguments: (inout PluginVM) -> [LuaValue]
    ) async -> Plugin.Outcome {
        await onCurrentVersion(of: plugin, replacement: { retired in
            self.pluginSet.byName[retired.name].flatMap { $0 !== retired && $0.hooks.contains(hook) ? $0 : nil }
        }) { target in
            await target.callWaiting(hook, function: { $0.hooks[hook] }, results: results, hops: hops, arguments)
        }
    }

    /// Calls a custom type's `validate` or `handle` on its owner, or on whichever version owns the type
    /// now if the owner was replaced while the call waited (the call may wait for I/O).
    func callTypeWaiting(
        _ type: String, on owner: Plugin, function: (PluginVM) -> LuaRef?, hops: Int = 0, _ arguments: (inout PluginVM) -> [LuaValue]
    ) async -> Plugin.Outcome {
        await onCurrentVersion(of: owner, replacement: { retired in
            self.pluginSet.typeOwners[type].flatMap { $0 !== retired ? $0 : nil }
        }) { target in
            await target.callWaiting(.eventType, function: function, results: 3, hops: hops, arguments)
        }
    }

    /// Runs `attempt` on `plugin`; when that version was replaced before the call began, on the version
    /// `replacement` names instead (three times at most; none: no opinion).
    private func onCurrentVersion(
        of plugin: Plugin, replacement: (Plugin) -> Plugin?, _ attempt: (Plugin) async -> Plugin.Outcome
    ) async -> Plugin.Outcome {
        var target = plugin
        for _ in 0..<3 {
            let outcome = await attempt(target)
            guard case .retired = outcome, let next = replacement(target) else { return outcome.isRetired ? .done([]) : outcome }
            target = next
        }
        return .done([])
    }

    public func authenticate(_ request: ConnectRequest) async -> AuthDecision {
        let table = JSONValue.object(request.pluginTable)
        for plugin in pluginSet.with(.onConnect) {
            let subject: JSONObject = ["user_id": request.claimedUserID.map { .string($0) } ?? .null, "transport": .string(request.transport.rawValue)]
            let outcome = await withShadow(of: plugin, .onConnect, subject: subject, results: 3, { _ in [.json(table)] }) {
                await callWaiting(plugin, .onConnect, results: 3, { _ in [.json(table)] })
            }
            switch outcome {
            case .retired:
                continue
            case .failed:
                return .deny(code: "auth_error", reason: "authentication failed")
            case .done(let results):
                let verdict = results.first ?? .none
                switch verdict {
                case .none:
                    continue
                case .bool(true):
                    guard let claimed = request.claimedUserID else { return .deny(code: "auth_required", reason: "user_id required") }
                    if let error = Identity.validateClaimedUserID(claimed) { return .deny(code: "auth_failed", reason: error.message) }
                    return .allow(Identity(userID: claimed, metadata: request.metadata))
                case .bool(false):
                    return .deny(code: results.string(at: 2) ?? "forbidden", reason: results.string(at: 1) ?? "connection refused")
                case .value(.object(let identity)):
                    guard let user = identity["user_id"]?.stringValue else {
                        plugin.reportBadReturn(.onConnect, verdict, expected: "a table with a string user_id")
                        return .deny(code: "auth_error", reason: "authentication failed")
                    }
                    let roles = identity["roles"]?.arrayValue?.compactMap(\.stringValue) ?? []
                    return .allow(Identity(userID: user, roles: roles, metadata: identity["metadata"]?.objectValue ?? request.metadata))
                default:
                    plugin.reportBadReturn(.onConnect, verdict, expected: "nil, true, false or an identity table")
                    return .deny(code: "auth_error", reason: "authentication failed")
                }
            }
        }
        return .noOpinion
    }

    public func authorizeJoin(_ connection: ConnectionInfo, room: String, exists: Bool) async -> JoinDecision {
        let plugins = pluginSet.with(.onJoin)
        guard !plugins.isEmpty else { return .noOpinion }
        let ctx = JSONValue.object(connection.pluginTable)
        for plugin in plugins {
            let arguments: (inout PluginVM) -> [LuaValue] = { _ in [.json(ctx), .string(room), .json(["exists": .bool(exists)])] }
            let outcome = await withShadow(
                of: plugin, .onJoin, subject: ["user_id": .string(connection.identity.userID), "room_id": .string(room)], results: 2, arguments
            ) {
                await callWaiting(plugin, .onJoin, results: 2, arguments)
            }
            switch outcome {
            case .retired:
                continue
            case .failed:
                return .deny(reason: "joining '\(room)' was refused (plugin error)")
            case .done(let results):
                switch results.first ?? .none {
                case .none: continue
                case .bool(true): return .allow
                case .bool(false): return .deny(reason: results.string(at: 1) ?? "joining '\(room)' is not allowed")
                case let other:
                    plugin.reportBadReturn(.onJoin, other, expected: "nil, true or false")
                    return .deny(reason: "joining '\(room)' was refused (plugin error)")
                }
            }
        }
        return .noOpinion
    }

    public func filterPublish(_ event: Event, from publisher: PublisherInfo) async -> PublishDecision {
        let plugins = pluginSet
        var event = event
        // A custom type's own handler runs first, then the on_publish chain.
        var steps: [(Plugin, PluginHook)] = []
        if let owner = plugins.typeOwners[event.type.rawValue] { steps.append((owner, .eventType)) }
        for plugin in plugins.with(.onPublish) where plugin.name != publisher.plugin { steps.append((plugin, .onPublish)) }
        if steps.isEmpty { return .pass(event) }
        let ctx = publisher.pluginValue
        for (plugin, hook) in steps {
            let table = event.pluginValue
            let outcome: Plugin.Outcome
            if hook == .eventType {
                let type = event.type.rawValue
                outcome = await withShadow(
                    of: plugin, .eventType, step: "\(type).handle", function: { $0.types[type]?.handle }, hops: event.pluginHops,
                    subject: PluginShadow.subject(event), results: 3, { _ in [ctx, table] }
                ) {
                    await callTypeWaiting(type, on: plugin, function: { $0.types[type]?.handle }, hops: event.pluginHops) { _ in [ctx, table] }
                }
            } else {
                outcome = await withShadow(
                    of: plugin, .onPublish, hops: event.pluginHops, subject: PluginShadow.subject(event), results: 3, { _ in [ctx, table] }
                ) {
                    await callWaiting(plugin, .onPublish, results: 3, hops: event.pluginHops) { _ in [ctx, table] }
                }
            }
            switch outcome {
            case .retired:
                continue
            case .failed:
                if options.passOnPublishError { continue }
                return .reject(reason: "rejected: a plugin failed while checking this event")
            case .done(let results):
                switch results.first ?? .none {
                case .none: continue
                case .bool(true): return .pass(event)
                case .bool(false):
                    if let reason = results.string(at: 1) { return .reject(reason: reason, code: results.string(at: 2)) }
                    return .drop
                case .value(.object(let changed)):
                    event.apply(changed)
                case let other:
                    plugin.reportBadReturn(hook, other, expected: "nil, true, false or the event table")
                    if !options.passOnPublishError { return .reject(reason: "rejected: a plugin failed while checking this event") }
                }
            }
        }
        return .pass(event)
    }

    public var filtersDelivery: Bool { pluginSet.filtersDelivery }

    public func filterDelivery(_ event: Event, to recipient: ConnectionInfo) -> DeliveryVerdict {
        let filters = pluginSet.with(.onDeliver)
        var chain = DeliveryFilterChain(event)
        let ctx = recipient.pluginValue
        let hops = event.pluginHops
        for (position, plugin) in filters.enumerated() {
            let shadowed = shadowsActive.load(ordering: .relaxed) ? shadowDelivery(plugin, event, recipient, ctx, chain) : nil
            switch start(plugin, .onDeliver, results: 1, hops: hops, { chain.arguments(recipient: ctx, on: &$0) }) {
            case .over(let outcome):
                if let (shadow, step, verdict) = shadowed { shadow.compare(step, event, live: outcome.verdict, shadow: verdict) }
                if let decision = chain.take(outcome, of: plugin) { return .now(decision) }
            case .waiting(let pending):
                // The rest of the chain goes on once this filter has its answer (the fan-out waits for it).
                let rest = filters[(position + 1)...]
                return .later { [chain] in
                    var chain = chain
                    if let decision = chain.take(await plugin.finish(pending), of: plugin) { return decision }
                    for next in rest {
                        let outcome = await self.callWaiting(next, .onDeliver, results: 1, hops: hops) { chain.arguments(recipient: ctx, on: &$0) }
                        if let decision = chain.take(outcome, of: next) { return decision }
                    }
                    return chain.decision
                }
            }
        }
        return .now(chain.decision)
    }

    public func didStore(_ event: Event) async {
        let hops = event.pluginHops
        for plugin in pluginSet.with(.onStored) {
            _ = await callWaiting(plugin, .onStored, results: 0, hops: hops) { vm in [.ref(vm.deliverEvent(event))] }
        }
    }

    public func didLeave(_ connection: ConnectionInfo, room: String, reason: DisconnectReason?) async {
        let ctx = JSONValue.object(connection.pluginTable)
        for plugin in pluginSet.with(.onLeave) {
            _ = await callWaiting(plugin, .onLeave, results: 0) { _ in [.json(ctx), .string(room), reason.map { .string($0.code) } ?? .string("left")] }
        }
    }

    public func didDisconnect(_ connection: ConnectionInfo, reason: DisconnectReason) async {
        let ctx = JSONValue.object(connection.pluginTable)
        for plugin in pluginSet.with(.onDisconnect) {
            _ = await callWaiting(plugin, .onDisconnect, results: 0) { _ in [.json(ctx), .string(reason.code)] }
        }
    }

    public func eventType(_ type: EventType) -> CustomEventType? {
        guard let owner = pluginSet.typeOwners[type.rawValue], let registered = owner.eventTypes[type.rawValue] else { return nil }
        let name = type.rawValue
        return CustomEventType(name: type, stored: registered.stored, clientsMaySend: registered.clientsMaySend) { [weak self] data in
            guard let self else { return nil }
            let outcome = await self.withShadow(
                of: owner, .eventType, step: "\(name).validate", function: { $0.types[name]?.validate },
                subject: ["event_type": .string(name)], results: 3, { _ in [.json(data)] }
            ) {
                await self.callTypeWaiting(name, on: owner, function: { $0.types[name]?.validate }, { _ in [.json(data)] })
            }
            switch outcome {
            case .retired, .done([]): return nil
            case .failed: return "validation failed"
            case .done(let results):
                switch results.first ?? .none {
                case .none, .bool(true): return nil
                case .bool(false): return results.string(at: 1) ?? "invalid data"
                case let other:
                    owner.reportBadReturn(.eventType, other, expected: "nil, true or false")
                    return "validation failed"
                }
            }
        }
    }
}

extension [LuaResult] {
    /// The string at `index`, if there is one.
    func string(at index: Int) -> String? {
        guard index < count, case .value(.string(let text)) = self[index] else { return nil }
        return text
    }
}

extension Event {
    /// Takes what a plugin may change from the table it returned: `data`.
    mutating func apply(_ table: JSONObject) {
        if let data = table["data"] { self.data = data }
    }
}

extension ConnectRequest {
    /// The connect request as `on_connect` sees it.
    var pluginTable: JSONObject {
        [
            "transport": .string(transport.rawValue),
            "remote_address": remoteAddress.map { .string($0) } ?? .null,
            "headers": .object(JSONObject(headers.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            "query": .object(JSONObject(query.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            "user_id": claimedUserID.map { .string($0) } ?? .null,
            "metadata": .object(metadata),
            "token": token.map { .string($0) } ?? .null,
        ]
    }
}

extension PublisherInfo {
    /// The publisher as `on_publish` sees it: the connection's fields (if any), with `user_id`, `transport`,
    /// `trusted` and `plugin` (for `hub.publish`) set by the publish.
    var pluginValue: LuaValue {
        var fields: [(key: String, value: LuaValue)] = []
        fields.reserveCapacity(10)
        if let connection {
            for field in connection.pluginFields where field.key != "user_id" && field.key != "transport" {
                fields.append((field.key, .json(field.value)))
            }
        } else {
            fields.append(("roles", .json(.array((identity?.roles ?? []).map { .string($0) }))))
            fields.append(("metadata", .json(.object(identity?.metadata ?? [:]))))
        }
        fields.append(("user_id", .string(userID)))
        fields.append(("transport", .string(transport.rawValue)))
        fields.append(("trusted", .bool(trusted)))
        if let plugin { fields.append(("plugin", .string(plugin))) }
        return .table(fields)
    }
}
