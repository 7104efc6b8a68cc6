import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import CoreMetrics
import Logging
public import MoonwireCore
public import MoonwirePlugins
import MoonwireRedis
import MoonwireSQLite
import NIOCore
import Prometheus
public import ServiceLifecycle
public import UnixSignals

/// The Moonwire server: the hub and its HTTP face (WebSocket, SSE, long-poll, the API and `/metrics`)
/// on one port.
///
/// ```swift
/// let app = MoonwireApplication(configuration: ServerConfiguration())
/// try await app.run()   // until SIGTERM / SIGINT
/// ```
public struct MoonwireApplication: Sendable {
    public let configuration: ServerConfiguration
    public let hub: Hub
    /// The Lua plugin host, unless plugins are off (`plugins.directory` empty) or other hooks were given.
    public let plugins: PluginHost?
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    /// - Parameters:
    ///   - broker: where history and fan-out live (in memory by default).
    ///   - hooks: hooks to use instead of the Lua plugin host.
    ///   - clock: time for the hub's timeouts, housekeeping and plugin timers (tests pass a `ManualClock`).
    public init(
        configuration: ServerConfiguration, broker: (any Broker)? = nil, hooks: (any HubHooks)? = nil, logger: Logger? = nil,
        clock: any HubClock = SystemClock()
    ) {
        self.init(
            configuration: configuration,
            makeBroker: { _, _ in
                broker
                    ?? MemoryBroker(
                        historySize: configuration.hub.historySize, maxAge: configuration.historyMaxAge.nonZero,
                        maxBytes: configuration.historyMaxBytes)
            },
            hooks: hooks, logger: logger, clock: clock)
    }

    /// Builds the application with the broker `broker.url` names (opening the SQLite file, or starting to
    /// connect to Redis).
    public static func make(configuration: ServerConfiguration, hooks: (any HubHooks)? = nil, logger: Logger? = nil) async throws
        -> MoonwireApplication
    {
        var brokerLogger = logger ?? Logger(label: "moonwire")
        brokerLogger.logLevel = configuration.logLevel
        brokerLogger[metadataKey: "component"] = "broker"
        switch try BrokerChoice(configuration) {
        case .memory:
            return MoonwireApplication(configuration: configuration, hooks: hooks, logger: logger)
        case .sqlite(let path):
            var options = SQLiteBroker.Options(path: path)
            options.historySize = configuration.hub.historySize
            options.maxAge = configuration.historyMaxAge.nonZero
            options.maxBytes = configuration.historyMaxBytes
            let broker = try await SQLiteBroker.open(options: options, logger: brokerLogger)
            return MoonwireApplication(configuration: configuration, broker: broker, hooks: hooks, logger: logger)
        case .redis(let endpoint):
            var options = RedisBroker.Options(endpoint: endpoint)
            options.keyPrefix = configuration.redisKeyPrefix
            options.historySize = configuration.hub.historySize
            options.maxAge = configuration.historyMaxAge.nonZero
            options.presenceTTL = configuration.presenceTTL
            return MoonwireApplication(
                configuration: configuration,
                makeBroker: { factory, _ in RedisBroker(options: options, logger: brokerLogger, metricsFactory: factory) },
                hooks: hooks, logger: logger)
        }
    }

    init(
        configuration: ServerConfiguration, makeBroker: (any MetricsFactory, Logger) -> any Broker, hooks: (any HubHooks)?,
        logger: Logger?, clock: any HubClock = SystemClock()
    ) {
        var logger = logger ?? Logger(label: "moonwire")
        logger.logLevel = configuration.logLevel
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        let broker = makeBroker(factory, logger)
        // With Redis, `hub.store` is shared by every node too.
        let quota = PluginStoreQuota(maxKeys: configuration.pluginStoreMaxKeys, maxBytes: configuration.pluginStoreMaxBytes)
        let store: any PluginKeyValueStore =
            (broker as? RedisBroker).map { RedisPluginStore(client: $0.blocking, keys: $0.keys, quota: quota) }
            ?? PluginStore(quota: quota, clock: clock)
        var host: PluginHost?
        if hooks == nil, !configuration.pluginsDirectory.isEmpty {
            var pluginLogger = logger
            pluginLogger[metadataKey: "component"] = "plugins"
            var options = PluginOptions(
                directory: configuration.pluginsDirectory,
                limits: LuaLimitsBuilder.limits(configuration),
                passOnPublishError: configuration.pluginPublishErrorPolicy == "pass",
                watch: configuration.pluginWatch,
                watchInterval: configuration.pluginWatchInterval,
                settings: configuration.pluginSettings,
                maxTimers: configuration.pluginMaxTimers,
                publishQueueBytes: configuration.pluginPublishQueueBytes,
                maxPublishHops: configuration.pluginMaxPublishHops,
                statesPerPlugin: configuration.pluginStates == 0 ? System.coreCount : configuration.pluginStates,
                httpMaxResponseBytes: configuration.pluginHTTPMaxResponseBytes)
            if let file = configuration.configurationFile {
                options.settingsSource = { try ConfigurationLoader.pluginSettings(fromFile: file) }
            }
            host = PluginHost(options: options, store: store, metricsFactory: factory, logger: pluginLogger, clock: clock)
        }
        self.plugins = host
        self.hub = Hub(
            configuration: configuration.hub,
            broker: broker,
            hooks: hooks ?? host ?? NoHooks(),
            statistics: HubStatistics(factory: factory),
            logger: logger,
            clock: clock)
        host?.attach(hub)
    }

    /// Loads the plugins (call once before `run`). The report lists failures; at startup they are fatal for
    /// `moonwire serve`.
    @discardableResult
    public func loadPlugins() -> ReloadReport? {
        plugins?.reload(trigger: "startup")
    }

    /// The services to run, in start order: the HTTP server, then the hub's housekeeping. On graceful shutdown
    /// the hub goes first (it tells every client), then the server stops.
    /// - Parameter onServerRunning: called with the bound port once the server listens.
    public func services(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> [any Service] {
        let cors = CORSPolicy(allowedOrigins: configuration.allowedOrigins)
        let apiKey = APIKeyCheck(key: configuration.apiKey)
        let stats = StatsReport(hub: hub, startedAt: .now())

        let router = Router(context: MoonwireRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware())
        router.middlewares.add(CORSMiddleware(policy: cors))
        if !configuration.examplesDirectory.isEmpty {
            StaticFileEndpoint(directory: configuration.examplesDirectory).register(on: router)
        }
        let transports = Set(configuration.transports)
        let events = transports.contains("sse") ? SSEEndpoint(hub: hub, configuration: configuration) : nil
        events?.register(on: router)
        let longPoll = transports.contains("longpoll") ? LongPollEndpoint(hub: hub, configuration: configuration) : nil
        longPoll?.register(on: router)
        ClientEndpoints(hub: hub, configuration: configuration).register(on: router)
        ClientLibraryEndpoint().register(on: router)
        PublishEndpoints(hub: hub, configuration: configuration, apiKey: apiKey).register(on: router)
        APIEndpoints(hub: hub, configuration: configuration, apiKey: apiKey, stats: stats).register(on: router)
        PluginEndpoints(host: plugins, apiKey: apiKey, maxBodyBytes: configuration.maxBodyBytes).register(on: router)
        MetricsEndpoint(hub: hub, registry: registry, stats: stats, apiKey: apiKey).register(on: router)
        StaticEndpoints(configuration: configuration).register(on: router)

        let webSocketRouter = Router(context: MoonwireRequestContext.self)
        let webSocket = WebSocketEndpoint(hub: hub, configuration: configuration, cors: cors)
        if transports.contains("websocket") { webSocket.register(webSocketRouter: webSocketRouter, httpRouter: router) }

        let gate = ConnectionGate(logger: logger)
        let guardSettings = HTTPConnectionGuard.Settings(
            headerTimeout: .nanoseconds(Int64(configuration.headerTimeout.nanoseconds)),
            bodyTimeout: .nanoseconds(Int64(configuration.bodyTimeout.nanoseconds)),
            idleTimeout: .nanoseconds(Int64(configuration.idleTimeout.nanoseconds)),
            hosts: HostPolicy(allowedHosts: configuration.allowedHosts, listenAddress: configuration.host))
        let app = Application(
            router: router,
            server: Self.serverBuilder(
                webSocketRouter: webSocketRouter,
                configuration: .init(
                    ws: .init(
                        maxFrameSize: webSocket.hardFrameLimit,
                        autoPing: .enabled(timePeriod: configuration.webSocketPingInterval),
                        validateUTF8: true)),
                guardSettings: guardSettings, gate: gate,
                transports: longPoll == nil && events == nil
                    ? nil : TransportRouter.Endpoints(longPoll: longPoll, events: events, cors: cors)),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "Moonwire",
                backlog: 4096,
                availableConnectionsDelegate: gate.delegate),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                logger.info("Moonwire listening", metadata: ["address": "\(configuration.host):\(port)"])
                logger.debug(
                    "connection limits",
                    metadata: ["open_file_limit": "\(gate.fileLimit)", "served": "\(gate.serveLimit)", "accepted": "\(gate.acceptLimit)"])
                if configuration.hub.maxConnections > gate.serveLimit {
                    logger.notice(
                        "server.max_connections (\(configuration.hub.maxConnections)) is more than the open-file limit (\(gate.fileLimit)) lets the hub hold: new connections are refused past \(gate.serveLimit) (raise it with ulimit -n)")
                }
                await onServerRunning(port)
            },
            logger: logger)
        var services: [any Service] = [app]
        if let plugins { services.append(PluginWatcher(host: plugins)) }
        services.append(HubService(hub: hub, shutdownTimeout: configuration.shutdownTimeout))
        return services
    }

    /// HTTP/1 with WebSocket upgrades, each connection guarded (timeouts, malformed requests, allowed hosts,
    /// the open-connection limit; see `HTTPConnectionGuard`).
    static func serverBuilder(
        webSocketRouter: Router<MoonwireRequestContext>, configuration: HTTP1WebSocketUpgradeChannel.Configuration,
        guardSettings: HTTPConnectionGuard.Settings, gate: ConnectionGate, transports: TransportRouter.Endpoints?
    ) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter.buildResponder()
        return HTTPServerBuilder { responder in
            GuardedChildChannel(
                inner: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                settings: guardSettings, gate: gate, transports: transports)
        }
    }

    /// A service group running `services()`; past `server.shutdown_timeout` plus two seconds of graceful
    /// shutdown, what is left is cancelled.
    public func serviceGroup(
        gracefulShutdownSignals: [UnixSignal] = [], exitDeadline: Bool = false, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> ServiceGroup {
        var all = services(onServerRunning: onServerRunning)
        if exitDeadline { all.append(ExitDeadline(after: configuration.shutdownTimeout + .seconds(5), logger: logger)) }
        var group = ServiceGroupConfiguration(
            services: all.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: gracefulShutdownSignals,
            logger: logger)
        group.maximumGracefulShutdownDuration = configuration.shutdownTimeout + .seconds(2)
        return ServiceGroup(configuration: group)
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run() async throws {
        let loopback = ["127.0.0.1", "localhost", "::1"].contains(configuration.host)
        if configuration.apiKey == nil && !loopback {
            logger.warning(
                "no server.api_key: /api/*, /trigger and /message are open to anyone who reaches \(configuration.host):\(configuration.port)")
        }
        if !loopback && !configuration.allowedHosts.contains("*") {
            logger.notice(
                "requests are answered only for the host names in server.allowed_hosts (\(configuration.allowedHosts.joined(separator: ", "))) and \(["0.0.0.0", "::"].contains(configuration.host) ? "IP addresses" : configuration.host); others get 421 host_not_allowed")
        }
        try await serviceGroup(gracefulShutdownSignals: [.sigterm, .sigint], exitDeadline: true).run()
    }
}

extension Duration {
    /// `nil` for zero (a setting that is off).
    var nonZero: Duration? { self > .zero ? self : nil }
}
