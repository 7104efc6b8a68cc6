import LuaRuntime
import MoonwireCore

/// How the plugin host runs plugins.
public struct PluginOptions: Sendable {
    /// Directory with the plugins (`*.lua` files and folders with `init.lua`).
    public var directory: String
    /// Limits of each plugin's Lua state.
    public var limits: LuaLimits
    /// What a failing `on_publish` does: reject the event (default) or let it pass.
    public var passOnPublishError: Bool
    /// Watch the directory and reload on changes.
    public var watch: Bool
    /// How often the directory is checked.
    public var watchInterval: Duration
    /// Each plugin's settings (`[plugins.NAME]` in the configuration file).
    public var settings: [String: JSONObject]

    public init(
        directory: String = "plugins", limits: LuaLimits = LuaLimits(), passOnPublishError: Bool = false, watch: Bool = true,
        watchInterval: Duration = .seconds(1), settings: [String: JSONObject] = [:]
    ) {
        self.directory = directory
        self.limits = limits
        self.passOnPublishError = passOnPublishError
        self.watch = watch
        self.watchInterval = watchInterval
        self.settings = settings
    }
}
