import Histogram

/// Latency percentiles in microseconds.
public struct LatencySummary: Sendable, Codable, Equatable {
    public var count: UInt64
    public var p50: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64
    public var mean: Double

    init(_ histogram: Histogram<UInt64>) {
        count = histogram.totalCount
        if count == 0 {
            p50 = 0; p99 = 0; p999 = 0; max = 0; mean = 0
        } else {
            p50 = histogram.valueAtPercentile(50)
            p99 = histogram.valueAtPercentile(99)
            p999 = histogram.valueAtPercentile(99.9)
            max = histogram.max
            mean = histogram.mean
        }
    }

    public init(count: UInt64 = 0, p50: UInt64 = 0, p99: UInt64 = 0, p999: UInt64 = 0, max: UInt64 = 0, mean: Double = 0) {
        self.count = count
        self.p50 = p50
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.mean = mean
    }
}

/// CPU and memory of the server under load over one measured phase (the process and its children).
public struct HubUsage: Sendable, Codable, Equatable {
    public var pid: Int
    public var processes: Int
    /// Percent of one core (200 = two cores busy).
    public var cpuPercent: Double
    public var rssStartBytes: Int
    public var rssPeakBytes: Int
    public var rssEndBytes: Int
}

/// The outcome of one measured run.
public struct BenchResult: Sendable, Codable, Equatable {
    public var scenario: String
    /// What distinguishes this run from the others of its scenario (a plugin variant, a ramp step …).
    public var variant: String
    public var target: BenchTarget
    public var transport: BenchTransport?
    /// Subscribing (or held) connections.
    public var connections: Int
    public var rooms: Int
    public var payloadBytes: Int
    /// `rate` (a fixed number of events per second) or `full` (as fast as deliveries complete).
    public var mode: String
    /// Events per second asked for in `rate` mode (all publishers together).
    public var targetRate: Double?
    /// Seconds from the first publish to the last delivery counted.
    public var durationSeconds: Double

    // Counts.
    public var published: Int
    public var publishErrors: Int
    public var expected: Int
    public var received: Int
    public var duplicates: Int
    public var missing: Int

    public var publishedPerSecond: Double
    public var deliveredPerSecond: Double
    /// Publish-to-receive latency, microseconds.
    public var latency: LatencySummary
    public var hub: HubUsage?
    /// CPU of the load generator itself over the phase, percent of one core.
    public var clientCPUPercent: Double?
    public var errors: ErrorTally
    /// Scenario-specific figures (`rss_per_connection_bytes`, `connects_per_second`, `reloads`, …).
    public var extra: [String: Double]
    public var notes: [String]

    public init(scenario: String, variant: String = "", target: BenchTarget, transport: BenchTransport?, connections: Int, rooms: Int,
                payloadBytes: Int, mode: String) {
        self.scenario = scenario
        self.variant = variant
        self.target = target
        self.transport = transport
        self.connections = connections
        self.rooms = rooms
        self.payloadBytes = payloadBytes
        self.mode = mode
        durationSeconds = 0
        published = 0
        publishErrors = 0
        expected = 0
        received = 0
        duplicates = 0
        missing = 0
        publishedPerSecond = 0
        deliveredPerSecond = 0
        latency = LatencySummary()
        errors = ErrorTally()
        extra = [:]
        notes = []
    }

    /// Every published event reached every subscriber that should have it, once.
    public var countsAddUp: Bool { missing == 0 && duplicates == 0 && received == expected }
}
