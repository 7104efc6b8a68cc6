import CoreMetrics
import Synchronization

/// The hub's counters: the seed's JSON counters for `/api/stats`, and swift-metrics instruments for `/metrics`.
public final class HubStatistics: Sendable {
    private let factory: any MetricsFactory

    private let connectionsTotal: [TransportKind: AtomicCount]
    private let connectionsActive: [TransportKind: AtomicCount]
    private let connectionCounters: [TransportKind: Counter]
    private let connectionGauges: [TransportKind: Meter]
    let eventsPublished = Atomic<Int>(0)
    let messagesSent = Atomic<Int>(0)
    let eventsDelivered = Atomic<Int>(0)
    let framesProcessed = Atomic<Int>(0)
    let broadcasts = Atomic<Int>(0)
    let roomsCreated = Atomic<Int>(0)
    let roomsRemoved = Atomic<Int>(0)
    let pollRequests = Atomic<Int>(0)
    let pollWaiting = Atomic<Int>(0)
    let errorsSent = Atomic<Int>(0)
    /// How long published events took from their timestamp to their fan-out, over the last ten seconds.
    public let publishLatency = LatencyWindow(seconds: 10)
    /// The last 50 events published on this node, for live event logs.
    public let recentEvents = RecentEvents(capacity: 50)

    private let eventsInCounter: Counter
    private let eventsOutCounter: Counter
    private let roomsGauge: Meter
    private let pollCounter: Counter
    private let dropCounters = Mutex<[String: Counter]>([:])
    private let disconnectCounters = Mutex<[String: Counter]>([:])
    private let drops = Mutex<[String: Int]>([:])
    private let disconnects = Mutex<[String: Int]>([:])

    public init(factory: any MetricsFactory) {
        self.factory = factory
        var total: [TransportKind: AtomicCount] = [:]
        var active: [TransportKind: AtomicCount] = [:]
        var counters: [TransportKind: Counter] = [:]
        var gauges: [TransportKind: Meter] = [:]
        for kind in TransportKind.connected {
            total[kind] = AtomicCount()
            active[kind] = AtomicCount()
            counters[kind] = Counter(label: "moonwire_connections_total", dimensions: [("transport", kind.rawValue)], factory: factory)
            gauges[kind] = Meter(label: "moonwire_connections", dimensions: [("transport", kind.rawValue)], factory: factory)
            gauges[kind]!.set(0)
        }
        self.connectionsTotal = total
        self.connectionsActive = active
        self.connectionCounters = counters
        self.connectionGauges = gauges
        self.eventsInCounter = Counter(label: "moonwire_events_in_total", factory: factory)
        self.eventsOutCounter = Counter(label: "moonwire_events_out_total", factory: factory)
        self.roomsGauge = Meter(label: "moonwire_rooms", factory: factory)
        self.pollCounter = Counter(label: "moonwire_poll_requests_total", factory: factory)
        self.roomsGauge.set(0)
    }

    func connectionOpened(_ kind: TransportKind) {
        connectionsTotal[kind]?.value.add(1, ordering: .relaxed)
        let now = connectionsActive[kind]?.value.add(1, ordering: .relaxed).newValue ?? 0
        connectionCounters[kind]?.increment()
        connectionGauges[kind]?.set(now)
    }

    func connectionClosed(_ kind: TransportKind, reason: DisconnectReason) {
        let now = connectionsActive[kind]?.value.subtract(1, ordering: .relaxed).newValue ?? 0
        connectionGauges[kind]?.set(now)
        let counter = disconnectCounters.withLock { counters in
            if let counter = counters[reason.code] { return counter }
            let counter = Counter(label: "moonwire_disconnects_total", dimensions: [("reason", reason.code)], factory: factory)
            counters[reason.code] = counter
            return counter
        }
        counter.increment()
        disconnects.withLock { $0[reason.code, default: 0] += 1 }
    }

    func published(_ event: Event) {
        eventsPublished.add(1, ordering: .relaxed)
        eventsInCounter.increment()
        if event.type == .message { messagesSent.add(1, ordering: .relaxed) }
        recentEvents.record(event)
    }

    func delivered(_ count: Int) {
        guard count > 0 else { return }
        eventsDelivered.add(count, ordering: .relaxed)
        eventsOutCounter.increment(by: count)
    }

    /// Counts an event not delivered to someone, by reason (`slow_consumer`, `plugin`, `rejected`, ...).
    public func dropped(_ reason: String, count: Int = 1) {
        let counter = dropCounters.withLock { counters in
            if let counter = counters[reason] { return counter }
            let counter = Counter(label: "moonwire_events_dropped_total", dimensions: [("reason", reason)], factory: factory)
            counters[reason] = counter
            return counter
        }
        counter.increment(by: count)
        drops.withLock { $0[reason, default: 0] += count }
    }

    func roomCount(_ count: Int) {
        roomsGauge.set(count)
    }

    func pollRequested() {
        pollRequests.add(1, ordering: .relaxed)
        pollCounter.increment()
    }

    /// Connections open now, by transport.
    public func activeConnections(_ kind: TransportKind) -> Int {
        connectionsActive[kind]?.value.load(ordering: .relaxed) ?? 0
    }

    /// Connections opened since start, by transport.
    public func totalConnections(_ kind: TransportKind) -> Int {
        connectionsTotal[kind]?.value.load(ordering: .relaxed) ?? 0
    }

    /// A snapshot of the JSON counters.
    public struct Snapshot: Sendable {
        public var totalConnections: [TransportKind: Int]
        public var activeConnections: [TransportKind: Int]
        public var eventsPublished: Int
        public var messagesSent: Int
        public var eventsDelivered: Int
        public var framesProcessed: Int
        public var broadcasts: Int
        public var roomsCreated: Int
        public var roomsRemoved: Int
        public var pollRequests: Int
        public var pollWaiting: Int
        public var errorsSent: Int
        public var drops: [String: Int]
        public var disconnects: [String: Int]
    }

    public func snapshot() -> Snapshot {
        Snapshot(
            totalConnections: connectionsTotal.mapValues { $0.value.load(ordering: .relaxed) },
            activeConnections: connectionsActive.mapValues { $0.value.load(ordering: .relaxed) },
            eventsPublished: eventsPublished.load(ordering: .relaxed),
            messagesSent: messagesSent.load(ordering: .relaxed),
            eventsDelivered: eventsDelivered.load(ordering: .relaxed),
            framesProcessed: framesProcessed.load(ordering: .relaxed),
            broadcasts: broadcasts.load(ordering: .relaxed),
            roomsCreated: roomsCreated.load(ordering: .relaxed),
            roomsRemoved: roomsRemoved.load(ordering: .relaxed),
            pollRequests: pollRequests.load(ordering: .relaxed),
            pollWaiting: pollWaiting.load(ordering: .relaxed),
            errorsSent: errorsSent.load(ordering: .relaxed),
            drops: drops.withLock { $0 },
            disconnects: disconnects.withLock { $0 }
        )
    }
}

/// An atomic integer that can live in a collection.
final class AtomicCount: Sendable {
    let value = Atomic<Int>(0)
}
