import Hummingbird
import HummingbirdWebSocket
import Logging
public import MoonwireCore
import NIOCore
import Prometheus
public import ServiceLifecycle

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
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    /// - Parameters:
    ///   - broker: where history and fan-out live (in memory by default).
    ///   - hooks: the plugin pipeline (none by default: the seed's rules).
    public init(configuration: ServerConfiguration, broker: (any Broker)? = nil, hooks: any HubHooks = NoHooks(), logger: Logger? = nil) {
        var logger = logger ?? Logger(label: "moonwire")
        logger.logLevel = configuration.logLevel
        let registry = PrometheusCollectorRegistry()
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.hub = Hub(
            configuration: configuration.hub,
            broker: broker ?? MemoryBroker(historySize: configuration.hub.historySize),
            hooks: hooks,
            statistics: HubStatistics(factory: PrometheusMetricsFactory(registry: registry)),
            logger: logger)
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
            router.middlewares.add(FileMiddleware(configuration.examplesDirectory, urlBasePath: "/examples", searchForIndexHtml: true, logger: logger))
        }
        SSEEndpoint(hub: hub, configuration: configuration).register(on: router)
        LongPollEndpoint(hub: hub, configuration: configuration).register(on: router)
        PublishEndpoints(hub: hub, configuration: configuration, apiKey: apiKey).register(on: router)
        APIEndpoints(hub: hub, configuration: configuration, apiKey: apiKey, stats: stats).register(on: router)
        MetricsEndpoint(hub: hub, registry: registry, stats: stats, apiKey: apiKey).register(on: router)
        StaticEndpoints(configuration: configuration).register(on: router)

        let webSocketRouter = Router(context: MoonwireRequestContext.self)
        let webSocket = WebSocketEndpoint(hub: hub, configuration: configuration, cors: cors)
        webSocket.register(webSocketRouter: webSocketRouter, httpRouter: router)

        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(
                    ws: .init(
                        maxFrameSize: webSocket.hardFrameLimit,
                        autoPing: .enabled(timePeriod: configuration.webSocketPingInterval)))
            ),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "Moonwire",
                backlog: 4096),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                logger.info("Moonwire listening", metadata: ["address": "\(configuration.host):\(port)"])
                await onServerRunning(port)
            },
            logger: logger)
        return [app, HubService(hub: hub, shutdownTimeout: configuration.shutdownTimeout)]
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services().map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
