/// Every knob of `moonwire bench`; each scenario reads the ones it needs (docs/performance.md).
public struct BenchOptions: Sendable {
    public var target: BenchTarget = .moonwire
    /// The server's base URL; default `http://127.0.0.1:8080` (Moonwire) or `http://127.0.0.1:8090` (Nchan).
    public var url: String?
    public var apiKey: String?
    public var transport: BenchTransport = .ws
    /// Subscribers (fanout), connections (idle, chat), or rooms with one subscriber each (rooms).
    public var subscribers: Int?
    /// Rooms (the `rooms` scenario).
    public var rooms: Int = 10_000
    /// Clients per room (chat).
    public var roomSize: Int = 50
    /// Events per second, all publishers together; nil: full speed.
    public var rate: Double?
    /// Full speed: at most this many events not yet delivered to every subscriber.
    public var window: Int?
    public var payloadBytes: Int = 100
    /// Seconds of publishing per run.
    public var duration: Double = 10
    /// Seconds to wait for the last deliveries once publishing stops (without progress).
    public var drain: Double = 5
    /// HTTP publisher connections.
    public var publishers: Int = 2
    /// Event-loop threads of the load generator.
    public var threads: Int = BenchOptions.cores
    /// Connections being opened at once.
    public var connectConcurrency: Int = 256
    /// The server's process (CPU% and RSS are read from /proc, with its children).
    public var hubPID: Int32?
    /// A `moonwire` binary to start for the run (required by plugins; optional for the others).
    public var hubBinary: String?
    /// Extra arguments for a hub started from `hubBinary`.
    public var hubArguments: [String] = []
    /// The plugins directory of an already running hub (reload without `hubBinary`).
    public var pluginsDirectory: String?
    /// One user id per subscriber (each join is announced to the room) instead of one shared id.
    public var distinctUsers = false
    /// Chat: messages per second each client sends.
    public var messageRate: Double = 1
    /// Storm: first step's connects per second, the factor between steps, the cap, and whether to keep them open.
    public var startRate: Double = 100
    public var rateFactor: Double = 2
    public var maxRate: Double = 10_000
    public var stepSeconds: Double = 1
    /// Storm: how late a step may finish (seconds past 1.1 × its schedule) and still count as kept to it.
    public var stepSlack: Double = 0.1
    public var maxConnections: Int = 15_000
    public var holdConnections = false
    /// Idle: seconds the connections are held before memory is read.
    public var hold: Double = 5
    /// Idle: events published at the end to check every held connection still receives.
    public var verifyEvents = 3
    /// Reload: seconds between reloads.
    public var reloadInterval: Double = 1
    /// Many keys: the key counts of the events, one run each.
    public var keys: [Int] = [1000, 4000, 16000]
    /// Many keys: events published per key count.
    public var events = 3
    /// Compare: subscriber counts, transports, payloads and modes of the matrix, and the deliveries per
    /// second of its fixed-rate runs (the event rate is this divided by the subscribers).
    public var compareSubscribers: [Int] = [1000, 5000]
    public var compareTransports: [BenchTransport] = [.ws, .sse, .poll]
    public var comparePayloads: [Int] = [100, 1024]
    public var compareModes: [String] = ["rate", "full"]
    public var compareDeliveriesPerSecond: Double = 20_000
    public var moonwireURL = "http://127.0.0.1:8080"
    public var moonwirePID: Int32?
    public var nchanURL = "http://127.0.0.1:8090"
    public var nchanPID: Int32?
    /// Progress lines (stderr in the command).
    public var log: @Sendable (String) -> Void = { _ in }

    public init() {}

    public func endpoint() throws -> HubEndpoint {
        let url = self.url ?? (target == .moonwire ? "http://127.0.0.1:8080" : "http://127.0.0.1:8090")
        return try HubEndpoint(target: target, url: url, apiKey: apiKey)
    }
}

extension BenchOptions {
    /// Online cores.
    public static var cores: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 2
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif
