import LuaRuntime
import MoonwireCore

/// One Lua state of a plugin version and the references into it. Only touched under its gate's lock.
struct PluginVM {
    let state: LuaState
    let table: LuaRef
    var hooks: [PluginHook: LuaRef]
    var types: [String: (validate: LuaRef?, handle: LuaRef?)]
    /// What the state's `hub` functions act on.
    let context: PluginStateContext
    /// The event last prepared for `on_deliver`, reused for every recipient of one fan-out.
    var deliverCache: (room: String?, id: EventID?, ephemeralID: String, ref: LuaRef)?

    /// The read-only event table for `on_deliver`: built once per event, not once per recipient.
    mutating func deliverEvent(_ event: Event) -> LuaRef {
        if let cache = deliverCache, cache.id == event.id, cache.ephemeralID == event.ephemeralID, cache.room == event.roomID {
            return cache.ref
        }
        if let old = deliverCache { state.release(old.ref) }
        let ref = state.makeRef(event.pluginValue, frozen: true)
        deliverCache = (event.roomID, event.id, event.ephemeralID, ref)
        return ref
    }
}

extension Event {
    /// The event as plugins see it, field by field.
    var pluginFields: [(key: String, value: JSONValue)] {
        var fields: [(key: String, value: JSONValue)] = [
            ("event_type", .string(type.rawValue)),
            ("user_id", .string(userID)),
            ("room_id", roomID.map { .string($0) } ?? .null),
            ("data", data),
            ("timestamp", .double(timestamp.seconds)),
        ]
        if let id { fields.append(("event_id", .string(id.description))) }
        return fields
    }

    /// The event as plugins see it.
    var pluginTable: JSONObject { JSONObject(pluginFields) }

    /// The event as a Lua table, pushed without building a JSON object first (the hooks' hot path).
    var pluginValue: LuaValue { .table(pluginFields.map { ($0.key, .json($0.value)) }) }
}

extension ConnectionInfo {
    /// The connection as plugins see it (`ctx` / `recipient`), field by field.
    var pluginFields: [(key: String, value: JSONValue)] {
        [
            ("connection_id", .string(id)),
            ("user_id", .string(identity.userID)),
            ("roles", .array(identity.roles.map { .string($0) })),
            ("metadata", .object(identity.metadata)),
            ("transport", .string(transport.rawValue)),
            ("remote_address", remoteAddress.map { .string($0) } ?? .null),
            ("rooms", .array(rooms.map { .string($0) })),
        ]
    }

    /// The connection as plugins see it (`ctx` / `recipient`).
    var pluginTable: JSONObject { JSONObject(pluginFields) }

    /// The connection as a Lua table, pushed without building a JSON object first.
    var pluginValue: LuaValue { .table(pluginFields.map { ($0.key, .json($0.value)) }) }
}
