import LuaRuntime
import MoonwireCore

/// A plugin version's Lua state and the references into it. Only touched under the plugin's lock.
struct PluginVM {
    let state: LuaState
    let table: LuaRef
    var hooks: [PluginHook: LuaRef]
    var types: [String: (validate: LuaRef?, handle: LuaRef?)]
    /// The event last prepared for `on_deliver`, reused for every recipient of one fan-out.
    var deliverCache: (key: String, ref: LuaRef)?

    /// The read-only event table for `on_deliver`: built once per event, not once per recipient.
    mutating func deliverEvent(_ event: Event) -> LuaRef {
        let key = "\(event.roomID ?? "")\u{1}\(event.wireID)"
        if let cache = deliverCache, cache.key == key { return cache.ref }
        if let old = deliverCache { state.release(old.ref) }
        let ref = state.makeRef(.json(.object(event.pluginTable)), frozen: true)
        deliverCache = (key, ref)
        return ref
    }
}

extension Event {
    /// The event as plugins see it.
    var pluginTable: JSONObject {
        var table: JSONObject = [
            "event_type": .string(type.rawValue),
            "user_id": .string(userID),
            "room_id": roomID.map { .string($0) } ?? .null,
            "data": data,
            "timestamp": .double(timestamp.seconds),
        ]
        if let id { table["event_id"] = .string(id.description) }
        return table
    }
}

extension ConnectionInfo {
    /// The connection as plugins see it (`ctx` / `recipient`).
    var pluginTable: JSONObject {
        [
            "connection_id": .string(id),
            "user_id": .string(identity.userID),
            "roles": .array(identity.roles.map { .string($0) }),
            "metadata": .object(identity.metadata),
            "transport": .string(transport.rawValue),
            "remote_address": remoteAddress.map { .string($0) } ?? .null,
            "rooms": .array(rooms.map { .string($0) }),
        ]
    }
}
