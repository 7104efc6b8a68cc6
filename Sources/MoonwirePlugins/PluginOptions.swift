#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
    /// Lua states each plugin version runs, built from the same source: calls of one plugin run in
    /// parallel, one per state (a plugin that declares `single_state = true` gets one). 0: one per CPU core.
    public var statesPerPlugin: Int
    /// Largest response body `hub.http.request` reads, in bytes.
    public var httpMaxResponseBytes: Int
    /// When set, only these plugins of the directory are loaded (`moonwire plugins test`).
    public var onlyPlugins: Set<String>?
    /// Reads the plugins' settings again (the configuration file's `[plugins.NAME]` tables), on every
    /// reload; `nil`: the settings given at startup stay.
    public var settingsSource: (@Sendable () throws -> [String: JSONObject])?

    public init(
        directory: String = "plugins", limits: LuaLimits = LuaLimits(), passOnPublishError: Bool = false, watch: Bool = true,
        watchInterval: Duration = .seconds(1), settings: [String: JSONObject] = [:], maxTimers: Int = 100, publishQueueBytes: Int = 4 << 20, maxPublishHops: Int = 8, stuckGrace: Duration = .seconds(1),
        statesPerPlugin: Int = 0, httpMaxResponseBytes: Int = 1 << 20
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
        self.statesPerPlugin = statesPerPlugin
        self.httpMaxResponseBytes = httpMaxResponseBytes
    }

    /// The states each plugin version runs: `statesPerPlugin`, or one per online CPU core when it is 0.
    var resolvedStatesPerPlugin: Int {
        if statesPerPlugin > 0 { return statesPerPlugin }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// How long calls wait for a plugin's VM (its call timeout; 1 s without one), and when a call holding
    /// it counts as stuck (the call timeout, 10 s without one, plus `stuckGrace`).
    var timing: PluginTiming {
        let deadline: Duration = limits.callTimeout ?? .seconds(10)
        let wait: Duration = limits.callTimeout ?? .seconds(1)
        return PluginTiming(waitForVM: wait, stuckAfter: deadline + stuckGrace)
    }
}
