import Logging
import MoonwireCore

/// One setting of the configuration file, with its environment variable and how it applies.
public struct ConfigurationKey: Sendable {
    /// The file section (`[server]`), or empty for top-level keys.
    public let section: String
    public let name: String
    public let help: String
    public let kind: Kind
    let apply: @Sendable (inout ServerConfiguration, ConfigurationValue) -> Void
    let current: @Sendable (ServerConfiguration) -> String

    /// What values a key takes.
    public enum Kind: Sendable {
        case integer(ClosedRange<Int>)
        case seconds(ClosedRange<Double>)
        case string(allowEmpty: Bool)
        case strings
        case logLevel
        case boolean
    }

    /// `section.name`.
    public var path: String { section.isEmpty ? name : "\(section).\(name)" }

    /// `MOONWIRE_SECTION_NAME`.
    public var environmentVariable: String {
        "MOONWIRE_" + (section.isEmpty ? name : "\(section)_\(name)").uppercased()
    }

    /// The default value, as it would be written in the file.
    public var defaultText: String { current(ServerConfiguration()) }
}

/// A checked value for a key.
enum ConfigurationValue {
    case integer(Int)
    case seconds(Duration)
    case string(String)
    case strings([String])
    case logLevel(Logger.Level)
    case boolean(Bool)

    var int: Int { if case .integer(let v) = self { return v } else { return 0 } }
    var duration: Duration { if case .seconds(let v) = self { return v } else { return .zero } }
    var string: String { if case .string(let v) = self { return v } else { return "" } }
    var strings: [String] { if case .strings(let v) = self { return v } else { return [] } }
    var level: Logger.Level { if case .logLevel(let v) = self { return v } else { return .info } }
    var bool: Bool { if case .boolean(let v) = self { return v } else { return false } }
}

private func quoted(_ s: String) -> String { "\"\(s)\"" }
private func secondsText(_ d: Duration) -> String {
    let s = d.seconds
    return s.rounded() == s ? String(Int(s)) : String(s)
}

extension ConfigurationKey {
    static func int(
        _ section: String, _ name: String, _ range: ClosedRange<Int>, _ help: String,
        _ keyPath: WritableKeyPath<ServerConfiguration, Int> & Sendable
    ) -> ConfigurationKey {
        ConfigurationKey(
            section: section, name: name, help: help, kind: .integer(range),
            apply: { $0[keyPath: keyPath] = $1.int }, current: { String($0[keyPath: keyPath]) })
    }

    static func seconds(
        _ section: String, _ name: String, _ range: ClosedRange<Double>, _ help: String,
        _ keyPath: WritableKeyPath<ServerConfiguration, Duration> & Sendable
    ) -> ConfigurationKey {
        ConfigurationKey(
            section: section, name: name, help: help, kind: .seconds(range),
            apply: { $0[keyPath: keyPath] = $1.duration }, current: { secondsText($0[keyPath: keyPath]) })
    }

    static func string(
        _ section: String, _ name: String, allowEmpty: Bool = false, _ help: String,
        _ keyPath: WritableKeyPath<ServerConfiguration, String> & Sendable
    ) -> ConfigurationKey {
        ConfigurationKey(
            section: section, name: name, help: help, kind: .string(allowEmpty: allowEmpty),
            apply: { $0[keyPath: keyPath] = $1.string }, current: { quoted($0[keyPath: keyPath]) })
    }

    static func strings(
        _ section: String, _ name: String, _ help: String, _ keyPath: WritableKeyPath<ServerConfiguration, [String]> & Sendable
    ) -> ConfigurationKey {
        ConfigurationKey(
            section: section, name: name, help: help, kind: .strings,
            apply: { $0[keyPath: keyPath] = $1.strings }, current: { "[" + $0[keyPath: keyPath].map(quoted).joined(separator: ", ") + "]" })
    }

    /// Every key the configuration file accepts.
    public static let all: [ConfigurationKey] = [
        .string("server", "host", "Address to listen on (0.0.0.0 for every interface).", \.host),
        .int("server", "port", 0...65535, "Port for every transport and the API (0: a free port the system picks, logged at start).", \.port),
        ConfigurationKey(
            section: "server", name: "api_key",
            help: "When set, /api/*, /trigger and /message need it (Authorization: Bearer KEY or X-API-Key: KEY). Empty: no key.",
            kind: .string(allowEmpty: true),
            apply: { $0.apiKey = $1.string.isEmpty ? nil : $1.string }, current: { quoted($0.apiKey ?? "") }),
        .strings(
            "server", "allowed_origins",
            "Origins allowed for CORS and WebSocket upgrades; \"*\" allows any, \"http://localhost:*\" any port. Same-origin pages are always allowed.",
            \.allowedOrigins),
        .strings(
            "server", "allowed_hosts",
            "Host names requests may name in their Host header (any port), besides the listening address; \"*\" allows any, \"*.example.com\" any subdomain.",
            \.allowedHosts),
        .strings(
            "server", "transports",
            "Transports clients may use: \"websocket\", \"sse\", \"longpoll\" (a disabled one is refused; clients fall back).", \.transports),
        .seconds("server", "auth_timeout", 0.1...3600, "Seconds a WebSocket client has to send its auth frame.", \.authTimeout),
        .seconds("server", "shutdown_timeout", 0...600, "Seconds shutdown waits for clients to be told and connections to end.", \.shutdownTimeout),
        .seconds("server", "header_timeout", 0.1...3600, "Seconds an HTTP request's head may take to arrive (from the connection's start, or the first byte of a later request).", \.headerTimeout),
        .seconds("server", "body_timeout", 0.1...3600, "Seconds an HTTP request's body may take to arrive after its head.", \.bodyTimeout),
        .seconds("server", "idle_timeout", 0.1...86_400, "Seconds an HTTP connection may stay open with no request in progress.", \.idleTimeout),
        .int("server", "max_body_bytes", 1024...(64 << 20), "Largest HTTP request body accepted, in bytes.", \.maxBodyBytes),
        .seconds("server", "ws_ping_interval", 1...3600, "Seconds between WebSocket protocol pings.", \.webSocketPingInterval),
        .int("server", "max_connections", 1...1_000_000, "Most connections held at once, all transports together.", \.hub.maxConnections),
        .string("server", "examples_dir", allowEmpty: true, "Directory served under /examples (empty: none).", \.examplesDirectory),

        .int("rooms", "history_size", 0...100_000, "Events kept per room.", \.hub.historySize),
        .int("rooms", "replay_on_join", 0...100_000, "Events replayed to a WebSocket client joining a room without resuming.", \.hub.replayOnJoin),
        ConfigurationKey(
            section: "rooms", name: "auto_join", help: "Room every WebSocket connection joins on connect (empty: none).",
            kind: .string(allowEmpty: true),
            apply: { $0.hub.autoJoinRoom = $1.string.isEmpty ? nil : $1.string }, current: { quoted($0.hub.autoJoinRoom ?? "") }),
        .int("rooms", "max_rooms", 1...10_000_000, "Most rooms the hub holds.", \.hub.maxRooms),
        .int("rooms", "max_per_connection", 1...100_000, "Most rooms one connection may follow.", \.hub.maxRoomsPerConnection),

        .int("limits", "max_frame_bytes", 64...(16 << 20), "Largest client frame accepted, in bytes; larger ones get an error event.", \.hub.maxFrameBytes),
        .int("limits", "max_event_bytes", 256...(256 << 20), "Largest event accepted from any source (its JSON), in bytes; at most half of outbound_queue_bytes.", \.hub.maxEventBytes),
        .int("limits", "outbound_queue_bytes", 1024...(1 << 30), "Bound of each connection's outbound queue; a client past it is disconnected as slow.", \.hub.outboundQueueBytes),
        .int("limits", "max_metadata_bytes", 2...(1 << 20), "Largest connection metadata (its JSON) accepted at connect, in bytes; presence answers repeat it for every member.", \.hub.maxMetadataBytes),

        .int("presence", "page_size", 1...100_000, "Most users in one presence answer; larger rooms are answered in pages (truncated, next).", \.hub.presencePageSize),
        .int("presence", "announce_max_users", 0...1_000_000, "Rooms with more users get their joins and leaves as one presence_diff per diff_interval instead of one user_joined / user_left each.", \.hub.announceMaxUsers),
        .seconds("presence", "diff_interval", 0.05...60, "Seconds between two presence_diff events of a large room.", \.hub.presenceDiffInterval),

        .seconds("heartbeat", "timeout", 1...86_400, "Seconds a WebSocket client may stay silent before it is closed and announced as left.", \.hub.heartbeatTimeout),
        .seconds("heartbeat", "sse_keepalive", 1...3600, "Seconds between keep-alive comments on an idle SSE stream.", \.hub.keepAliveInterval),

        .seconds("long_poll", "default_timeout", 0...3600, "Seconds a poll waits when the client gives no timeout.", \.hub.pollDefaultTimeout),
        .seconds("long_poll", "max_timeout", 0...3600, "Longest wait a client may ask for; longer timeouts are clamped to it.", \.hub.pollMaxTimeout),
        .int("long_poll", "batch_size", 1...10_000, "Most messages in one poll answer (has_more tells the client to poll again).", \.hub.pollBatchSize),
        .seconds("long_poll", "session_timeout", 1...86_400, "Seconds after its last poll that a long-poll client counts as gone.", \.hub.pollSessionTimeout),

        .string(
            "broker", "url",
            "Where history and fan-out live: \"memory\", \"sqlite:PATH\" (history kept in a file) or \"redis://HOST:PORT[/DB]\" (several nodes as one hub).",
            \.brokerURL),
        .seconds("broker", "history_max_age", 0...31_536_000, "Seconds an event stays in room history at most (0: until newer events push it out).", \.historyMaxAge),
        .int("broker", "history_max_bytes", (1 << 20)...(1 << 40), "Memory and SQLite brokers: bytes of room history kept in memory over every room; past it the oldest events go first.", \.historyMaxBytes),
        .seconds("broker", "presence_ttl", 0.5...3600, "Redis: seconds after which the users of a node that stopped answering are announced as left.", \.presenceTTL),
        .string("broker", "redis_prefix", "Redis: prefix of every key and channel (hubs sharing one Redis need different ones).", \.redisKeyPrefix),

        ConfigurationKey(
            section: "log", name: "level", help: "trace, debug, info, notice, warning, error or critical.", kind: .logLevel,
            apply: { $0.logLevel = $1.level }, current: { quoted($0.logLevel.rawValue) }),
        .string("plugins", "directory", allowEmpty: true, "Directory of Lua plugins (empty: no plugins).", \.pluginsDirectory),
        .int("plugins", "memory_limit", 1 << 20...(4 << 30), "Memory cap of each plugin's Lua state, in bytes.", \.pluginMemoryBytes),
        .int("plugins", "cpu_budget", 0...2_000_000_000, "Most Lua instructions one call into a plugin (hook, timer, on_load) may run (0: no budget).", \.pluginInstructionBudget),
        .seconds("plugins", "call_timeout", 0...60, "Wall-clock limit of one call into a plugin, in seconds (0: none).", \.pluginCallTimeout),
        .string("plugins", "on_publish_error", "What a failing on_publish does: \"reject\" the event or let it \"pass\".", \.pluginPublishErrorPolicy),
        ConfigurationKey(
            section: "plugins", name: "watch", help: "Reload plugins when their files change (SIGHUP and the API always can).",
            kind: .boolean, apply: { $0.pluginWatch = $1.bool }, current: { $0.pluginWatch ? "true" : "false" }),
        .seconds("plugins", "watch_interval", 0.05...3600, "Seconds between two checks of the plugins directory.", \.pluginWatchInterval),
        .int("plugins", "max_timers", 1...100_000, "Timers (hub.every, pending hub.after) one plugin may have at once.", \.pluginMaxTimers),
        .int("plugins", "store_max_keys", 1...100_000_000, "Keys one plugin may keep in hub.store.", \.pluginStoreMaxKeys),
        .int("plugins", "store_max_bytes", 1024...(64 << 30), "Bytes one plugin may keep in hub.store (keys plus values as JSON).", \.pluginStoreMaxBytes),
        .int("plugins", "publish_queue_bytes", 1024...(4 << 30), "Bytes of events one plugin may have waiting to be published (hub.publish).", \.pluginPublishQueueBytes),
        .int("plugins", "max_publish_hops", 1...1000, "Longest chain of plugin publishes (a plugin publishing while handling an event a plugin published, ...); longer chains are dropped.", \.pluginMaxPublishHops),
        .int("plugins", "states", 0...1024, "Lua states each plugin runs, so that its calls run in parallel, one per state (0: one per event-loop thread, that is per CPU core). A plugin with single_state = true has one.", \.pluginStates),
        .int("plugins", "http_max_response_bytes", 1024...(256 << 20), "Largest response body hub.http.request reads, in bytes; a larger one is an error (too large).", \.pluginHTTPMaxResponseBytes),
    ]
}
