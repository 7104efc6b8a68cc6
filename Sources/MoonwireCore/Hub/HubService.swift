import ServiceLifecycle

/// Runs the hub's housekeeping once a second, and shuts the hub down gracefully when the service group
/// is told to stop (SIGTERM / SIGINT).
public struct HubService: Service {
    public let hub: Hub
    /// How often housekeeping runs.
    public var interval: Duration
    /// How long shutdown waits for connections to finish.
    public var shutdownTimeout: Duration

    public init(hub: Hub, interval: Duration = .seconds(1), shutdownTimeout: Duration = .seconds(5)) {
        self.hub = hub
        self.interval = interval
        self.shutdownTimeout = shutdownTimeout
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                await hub.sweep()
            }
        }
        await hub.shutdown(timeout: shutdownTimeout)
    }
}
