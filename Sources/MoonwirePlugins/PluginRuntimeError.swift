import LuaRuntime
import MoonwireCore

/// One failed plugin call, as logged and as `/api/plugins` shows the last one (`last_runtime_error`).
public struct PluginRuntimeError: Sendable, Equatable {
    public var hook: PluginHook
    public var version: String
    public var reason: PluginFailureReason
    /// What went wrong, without the traceback.
    public var message: String
    /// `file:line` of the plugin code involved, when known.
    public var location: String?
    /// The message with the Lua traceback, when there is one.
    public var detail: String
    public var at: Timestamp

    init(hook: PluginHook, version: String, reason: PluginFailureReason, message: String, location: String? = nil, detail: String? = nil) {
        self.hook = hook
        self.version = version
        self.reason = reason
        self.message = message
        self.location = location
        self.detail = detail ?? message
        self.at = .now()
    }

    init(hook: PluginHook, version: String, _ error: LuaError) {
        self.init(
            hook: hook, version: version, reason: PluginFailureReason(error), message: error.description, location: error.location,
            detail: error.detailed)
    }
}
