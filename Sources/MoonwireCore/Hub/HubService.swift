import ServiceLifecycle

/// Runs the hub's housekeeping (`Hub.sweepInterval`, on the hub's clock), and shuts the hub down gracefully when the service group
/// is told to stop (SIGTERM / SIGINT).
public struct HubService: Service {
    public let hub: Hub
    /// How often housekeeping runs (`nil`: `Hub.sweepInterval`).
    public var interval: Duration?
    /// How long shutdown waits for connections to finish.
    public var shutdownTimeout: Duration

    public init(hub: Hub, interval: Duration? = nil, shutdownTimeout: Duration = .seconds(5)) {
        self.hub = hub
        self.interval = interval
        self.shutdownTimeout = shutdownTimeout
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await hub.clock.sleep(for: interval ?? hub.sweepInterval)
                await hub.sweep()
            }
        }
        await hub.shutdown(timeout: shutdownTimeout)
    }
}
