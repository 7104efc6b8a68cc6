/// The hooks a plugin may define, as named in its table.
public enum PluginHook: String, Sendable, CaseIterable, Hashable {
    case onConnect = "on_connect"
    case onJoin = "on_join"
    case onPublish = "on_publish"
    case onDeliver = "on_deliver"
    case onStored = "on_stored"
    case onLeave = "on_leave"
    case onDisconnect = "on_disconnect"
    case onLoad = "on_load"
    case onUnload = "on_unload"
    /// Calls of timer callbacks (`hub.every`, `hub.after`).
    case timer = "timer"
    /// Calls of custom event types' `validate` and `handle`.
    case eventType = "type"

    /// Hooks that are functions in the plugin table.
    static let tableHooks: [PluginHook] = [.onConnect, .onJoin, .onPublish, .onDeliver, .onStored, .onLeave, .onDisconnect, .onLoad, .onUnload]
}
