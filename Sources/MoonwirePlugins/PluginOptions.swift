import LuaRuntime
import MoonwireCore

/// How the plugin host runs plugins.
public struct PluginOptions: Sendable {
    /// Directory with the plugins (`*.lua` files and folders with `init.lua`).
    public var directory: String
    /// Limits of each plugin's Lua state and of each call.
    public var limits: LuaLimits
    /// What a failing `on_publish` does: reject the event (default) or let it pass.
    public var passOnPublishError: Bool
    /// Watch the directory and reload on changes.
    public var watch: Bool
    /// How often the directory is checked.
    public var watchInterval: Duration
    /// Each plugin's settings (`[plugins.NAME]` in the configuration file).
    public var settings: [String: JSONObject]
    /// Timers one plugin version may have at once (`hub.every` and pending `hub.after`).
    public var maxTimers: Int
    /// Bytes of events one plugin may have waiting to be published (`hub.publish` is queued).
    public var publishQueueBytes: Int
    /// Longest chain of plugin publishes: an event a plugin publishes while handling an event that is
    /// already this many publishes deep is dropped (publish loops end here).
    public var maxPublishHops: Int
    /// How far past its deadline a call may run before its version is quarantined as stuck.
    public var stuckGrace: Duration

    public init(
        directory: String = "plugins", limits: LuaLimits = LuaLimits(), passOnPublishError: Bool = false, watch: Bool = true,
        watchInterval: Duration = .seconds(1), settings: [String: JSONObject] = [:], maxTimers: Int = 100, publishQueueBytes: Int = 4 << 20, maxPublishHops: Int = 8, stuckGrace: Duration = .seconds(1)
    ) {
        self.directory = directory
        self.limits = limits
        self.passOnPublishError = passOnPublishError
        self.watch = watch
        self.watchInterval = watchInterval
        self.settings = settings
        self.maxTimers = maxTimers
        self.publishQueueBytes = publishQueueBytes
        self.maxPublishHops = maxPublishHops
        self.stuckGrace = stuckGrace
    }

    /// How long calls wait for a plugin's VM (its call timeout; 1 s without one), and when a call holding
    /// it counts as stuck (the call timeout, 10 s without one, plus `stuckGrace`).
    var timing: PluginTiming {
        let deadline: Duration = limits.callTimeout ?? .seconds(10)
        let wait: Duration = limits.callTimeout ?? .seconds(1)
        return PluginTiming(waitForVM: wait, stuckAfter: deadline + stuckGrace)
    }
}
