import Logging
public import MoonwireCore

/// Everything `moonwire serve` can be told: the HTTP side here, the hub's rules in `hub`.
/// Every key, its default and its environment variable are listed in docs/configuration.md.
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port for every transport and the API.
    public var port = 8080
    /// When set, `/api/*`, `/trigger` and `/message` need it (`Authorization: Bearer KEY` or `X-API-Key: KEY`).
    public var apiKey: String?
    /// Origins allowed for CORS and WebSocket upgrades. `*` allows any; `http://localhost:*` any port.
    /// A page served by the hub itself (same origin) is always allowed.
    public var allowedOrigins = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
    /// Host names requests may be addressed to (their `Host` header, any port), besides the address the hub
    /// listens on: `*` allows any, `*.example.com` any subdomain. Guards against DNS rebinding.
    public var allowedHosts = ["localhost", "127.0.0.1", "[::1]"]
    /// Transports clients may use: `websocket`, `sse`, `longpoll` (a proxy that breaks one, or a policy,
    /// may call for turning it off; clients then fall back to the others).
    public var transports = ["websocket", "sse", "longpoll"]
    /// A WebSocket client must send its auth frame within this time.
    public var authTimeout: Duration = .seconds(10)
    /// How long shutdown waits for clients to be told and connections to finish.
    public var shutdownTimeout: Duration = .seconds(5)
    /// An HTTP request's head must have arrived this long after the connection opened (or, between
    /// requests, after its first byte).
    public var headerTimeout: Duration = .seconds(10)
    /// An HTTP request's body must have arrived this long after its head.
    public var bodyTimeout: Duration = .seconds(30)
    /// An HTTP connection with no request in progress is closed after this long.
    public var idleTimeout: Duration = .seconds(60)
    /// Largest HTTP request body accepted by the publishing endpoints.
    public var maxBodyBytes = 1 << 20
    /// WebSocket protocol pings are sent this often (browsers answer them by themselves).
    public var webSocketPingInterval: Duration = .seconds(30)
    /// Log level.
    public var logLevel: Logger.Level = .info
    /// Directory of Lua plugins (empty: plugins off).
    public var pluginsDirectory = "plugins"
    /// Memory cap of each plugin's Lua state, in bytes.
    public var pluginMemoryBytes = 32 << 20
    /// Most Lua instructions one hook call may run.
    public var pluginInstructionBudget = 10_000_000
    /// Wall-clock limit of one hook call.
    public var pluginCallTimeout: Duration = .milliseconds(250)
    /// What a failing `on_publish` does: `reject` the event, or let it `pass`.
    public var pluginPublishErrorPolicy = "reject"
    /// Reload plugins when their files change.
    public var pluginWatch = true
    /// How often the plugins directory is checked for changes.
    public var pluginWatchInterval: Duration = .seconds(1)
    /// Timers one plugin version may have at once.
    public var pluginMaxTimers = 100
    /// Keys one plugin may keep in `hub.store`.
    public var pluginStoreMaxKeys = 10_000
    /// Bytes one plugin may keep in `hub.store` (keys plus values as JSON).
    public var pluginStoreMaxBytes = 8 << 20
    /// Bytes of events one plugin may have waiting to be published.
    public var pluginPublishQueueBytes = 4 << 20
    /// Longest chain of plugin publishes (an event published by a plugin handling an event published by a
    /// plugin ...); longer chains are dropped.
    public var pluginMaxPublishHops = 8
    /// Lua states per plugin version (0: one per event-loop thread, that is per CPU core).
    public var pluginStates = 0
    /// Largest response body `hub.http.request` reads, in bytes.
    public var pluginHTTPMaxResponseBytes = 1 << 20
    /// Directory served under `/examples` (the example pages), if it exists.
    public var examplesDirectory = "examples"
    /// Each plugin's settings, from the `[plugins.NAME]` tables of the configuration file.
    public var pluginSettings: [String: JSONObject] = [:]
    /// The configuration file read at startup, if any: its `[plugins.NAME]` tables are read again on
    /// every plugin reload.
    public var configurationFile: String?
    /// Where history and fan-out live: `memory` (the default: one node, history lost on restart),
    /// `sqlite:PATH` (one node, history kept in a SQLite file), or `redis://HOST:PORT[/DB]` (several
    /// nodes acting as one hub).
    public var brokerURL = "memory"
    /// Events older than this leave room history (zero: kept until newer ones push them out).
    public var historyMaxAge: Duration = .zero
    /// Memory and SQLite brokers: room history kept in memory over every room together, in bytes; past it
    /// the oldest events go first, whatever their room.
    public var historyMaxBytes = 64 << 20
    /// Redis broker: a node's presence entries expire this long after its last refresh, so the users of a
    /// node that died are announced as left about this long after.
    public var presenceTTL: Duration = .seconds(30)
    /// Redis broker: prefix of every key and channel (hubs sharing a Redis server need different ones).
    public var redisKeyPrefix = "moonwire"
    /// The hub's own rules.
    public var hub = HubConfiguration()

    public init() {}
}
