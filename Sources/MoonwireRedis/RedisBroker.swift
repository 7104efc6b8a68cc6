import CoreMetrics
import Logging
import MoonwireCore
import NIOCore
import NIOPosix
import Synchronization

/// The broker for several nodes: history in Redis streams, fan-out over Redis pub/sub, presence in Redis
/// with expiry. Every node attached to the same Redis (and key prefix) acts as one hub.
///
/// - Ids: one Lua script per publish takes Redis's clock in microseconds (or the room's newest id + 1),
///   appends the event to the room's stream under that id, trims the stream, and publishes it on the
///   room's channel, atomically: every node sees a room's events in id order.
/// - Gaps: the room's `trimmed` mark (newest id no longer retained) and the Redis `epoch` (ids below it
///   are from before this Redis's data) tell a resuming client what it missed.
/// - When Redis is unreachable, publishes fail at once (`unavailable`, HTTP 503), history reads fail, and
///   the node keeps serving its local clients; it reconnects by itself, and rooms catch up from their
///   streams once it is back.
public final class RedisBroker: Broker {
    public struct Options: Sendable {
        public var endpoint: RedisEndpoint
        public var keyPrefix = "moonwire"
        /// Events kept per room.
        public var historySize = 100
        /// Events older than this leave history (`nil`: none).
        public var maxAge: Duration?
        /// A node's presence entries expire this long after its last refresh (it refreshes every third of it).
        public var presenceTTL: Duration = .seconds(30)
        /// How long a room without interest stays subscribed.
        public var linger: Duration = .seconds(10)
        /// A command unanswered this long drops the connection.
        public var commandTimeout: Duration = .seconds(5)
        /// This node's name in presence entries (random by default).
        public var nodeID = RandomID.token(length: 16)

        public init(endpoint: RedisEndpoint) {
            self.endpoint = endpoint
        }
    }

    public let options: Options
    public let keys: RedisKeys
    let logger: Logger
    /// Commands: publishes, history, presence.
    let commands: RedisClient
    /// Pub/sub: on a thread of its own, so deliveries keep their order.
    let subscriber: RedisClient
    /// For synchronous callers (plugins' store and history): on a thread of its own, never the caller's.
    public let blocking: RedisClient
    let subscriptions: RedisSubscriptions
    let presenceStore: RedisPresenceStore
    private let subscriberGroup: MultiThreadedEventLoopGroup
    /// Fan-out of what arrives over pub/sub: threads of its own (one per core), so that a delivery filter
    /// waiting on Redis never holds up the threads that serve connections.
    private let fanoutGroup: MultiThreadedEventLoopGroup
    private let blockingGroup: MultiThreadedEventLoopGroup
    private let sink = Mutex<(any BrokerSink)?>(nil)
    private let knownRooms = Mutex<Set<String>>([])
    private let maintenance = Mutex<Task<Void, Never>?>(nil)
    private let refused = Atomic<Int>(0)
    private let healthGauge: Meter
    private let reconnectCounter: CoreMetrics.Counter
    private let refusedCounter: CoreMetrics.Counter

    public init(options: Options, logger: Logger = Logger(label: "moonwire.redis"), metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.options = options
        self.keys = RedisKeys(prefix: options.keyPrefix)
        self.logger = logger
        self.subscriberGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.fanoutGroup = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        self.blockingGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.healthGauge = Meter(label: "moonwire_broker_healthy", factory: metricsFactory)
        self.reconnectCounter = CoreMetrics.Counter(label: "moonwire_broker_reconnects_total", factory: metricsFactory)
        self.refusedCounter = CoreMetrics.Counter(label: "moonwire_broker_publishes_refused_total", factory: metricsFactory)
        self.healthGauge.set(0)

        var commandOptions = RedisClient.Options(endpoint: options.endpoint, name: "commands")
        commandOptions.commandTimeout = options.commandTimeout
        var subscriberOptions = RedisClient.Options(endpoint: options.endpoint, name: "subscriber")
        subscriberOptions.commandTimeout = options.commandTimeout
        var blockingOptions = RedisClient.Options(endpoint: options.endpoint, name: "blocking")
        blockingOptions.commandTimeout = options.commandTimeout

        let keys = self.keys
        let historySize = options.historySize
        let maxAge = options.maxAge
        let commandsBox = Mutex<RedisClient?>(nil)
        let subscriptionsBox = Mutex<RedisSubscriptions?>(nil)

        let commands = RedisClient(options: commandOptions, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        commandsBox.withLock { $0 = commands }
        self.commands = commands
        let subscriptions = RedisSubscriptions(
            keys: keys, linger: options.linger, logger: logger, lanes: FanoutLanes(group: fanoutGroup),
            catchUpRead: { room, after in
                guard let commands = commandsBox.withLock({ $0 }) else { return [] }
                // The subscriber may be back before the command connection.
                _ = await commands.waitUntilConnected(timeout: .seconds(5))
                let request: HistoryRequest = after.map { .after($0, limit: 100_000) } ?? .latest(historySize)
                return try await Self.read(room: room, request, keys: keys, maxAge: maxAge, on: commands).events
            })
        subscriptionsBox.withLock { $0 = subscriptions }
        self.subscriptions = subscriptions
        let connectionBox = Mutex<RedisConnection?>(nil)
        self.subscriber = RedisClient(
            options: subscriberOptions, group: subscriberGroup, logger: logger,
            onPush: { value in
                guard let connection = connectionBox.withLock({ $0 }) else { return }
                subscriptionsBox.withLock { $0 }?.handle(value, on: connection.eventLoop)
            },
            onConnect: { connection in
                connectionBox.withLock { $0 = connection }
                subscriptions.connected(connection)
                connection.closeFuture.whenComplete { _ in subscriptions.disconnected(connection) }
            })
        self.blocking = RedisClient(options: blockingOptions, group: blockingGroup, logger: logger)
        self.presenceStore = RedisPresenceStore(
            keys: keys, nodeID: options.nodeID, ttl: options.presenceTTL, commands: commands, logger: logger)
    }

    /// Starts connecting (the node serves its clients meanwhile; publishes fail until Redis answers).
    public func start() {
        commands.start()
        subscriber.start()
        blocking.start()
        maintenance.withLock { task in
            guard task == nil else { return }
            let interval = min(Duration.seconds(1), options.presenceTTL / 3)
            task = Task { [weak self] in
                var healthy = false
                var connects = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self else { return }
                    self.subscriptions.sweepIdle()
                    let now = self.commands.isConnected && self.subscriber.isConnected
                    if now != healthy {
                        healthy = now
                        self.healthGauge.set(now ? 1 : 0)
                        if now {
                            self.logger.notice("Redis broker healthy", metadata: ["redis": "\(self.options.endpoint)"])
                        } else {
                            self.logger.error(
                                "Redis broker unavailable: publishes are refused until it is back",
                                metadata: ["redis": "\(self.options.endpoint)"])
                        }
                    }
                    let made = self.commands.connects
                    if made > connects {
                        if connects > 0 { self.reconnectCounter.increment(by: made - connects) }
                        connects = made
                    }
                    await self.presenceStore.maintain()
                }
            }
        }
    }

    /// Waits until the command and subscriber connections are up (at most `timeout`).
    public func waitUntilConnected(timeout: Duration) async -> Bool {
        let commandsUp = await commands.waitUntilConnected(timeout: timeout)
        let subscriberUp = await subscriber.waitUntilConnected(timeout: timeout)
        return commandsUp && subscriberUp
    }

    public func attach(_ sink: any BrokerSink) {
        self.sink.withLock { $0 = sink }
        subscriptions.attach(sink)
        if let host = sink as? any PresenceHost { presenceStore.attach(host) }
        start()
    }

    public var presence: (any PresenceStore)? { presenceStore }

    // MARK: Publish

    public func publish(_ event: Event, store: Bool) async throws -> Event {
        guard let room = event.roomID else {
            throw HubError(.invalidRoom, "an event published through Redis needs a room")
        }
        guard commands.isConnected else {
            refused.add(1, ordering: .relaxed)
            refusedCounter.increment()
            throw HubError(.unavailable, "the hub cannot reach its Redis broker right now; try again shortly")
        }
        note(room)
        do {
            if store {
                let reply = try await commands.run(
                    RedisScripts.publish, keys: [keys.stream(room), keys.meta(room), keys.epoch],
                    arguments: [
                        .bytes(EventCodec.encode(event)), .string(String(options.historySize)),
                        .string(String(maxAgeMicroseconds)), .string(keys.channel(room)),
                    ])
                guard let text = reply.string, let id = EventID(text) else {
                    throw RedisError.unexpectedReply("publish returned \(reply)")
                }
                var stored = event
                stored.id = id
                stored.ephemeralID = ""
                return stored
            } else {
                var payload = Array("- ".utf8)
                payload.append(contentsOf: EventCodec.encode(event))
                try await commands.send(["PUBLISH", .string(keys.channel(room)), .bytes(payload)])
                return event
            }
        } catch let error as RedisError {
            refused.add(1, ordering: .relaxed)
            refusedCounter.increment()
            throw HubError(.unavailable, "the Redis broker failed to publish: \(error)")
        }
    }

    private var maxAgeMicroseconds: Int64 {
        options.maxAge.map { Int64($0.nanoseconds / 1000) } ?? 0
    }

    private func note(_ room: String) {
        knownRooms.withLock { rooms in
            if rooms.count < 10_000 { rooms.insert(room) }
        }
    }

    // MARK: History

    public func history(room: String, _ request: HistoryRequest) async throws -> HistoryPage {
        note(room)
        return try await Self.read(room: room, request, keys: keys, maxAge: options.maxAge, on: commands)
    }

    static func read(room: String, _ request: HistoryRequest, keys: RedisKeys, maxAge: Duration?, on client: RedisClient) async throws
        -> HistoryPage
    {
        let arguments = readArguments(request, maxAge: maxAge)
        let reply = try await client.run(RedisScripts.read, keys: [keys.stream(room), keys.meta(room), keys.epoch], arguments: arguments)
        return try page(from: reply, request)
    }

    static func readArguments(_ request: HistoryRequest, maxAge: Duration?) -> [RedisArgument] {
        let age = String(maxAge.map { Int64($0.nanoseconds / 1000) } ?? 0)
        switch request {
        case .latest(let count):
            return ["latest", .string(String(max(0, count))), "", .string(age)]
        case .after(let after, let limit):
            return ["after", .string(String(max(0, limit))), .string(after?.description ?? ""), .string(age)]
        case .before(let before, let limit):
            return ["before", .string(String(max(0, limit))), .string(before.description), .string(age)]
        }
    }

    /// Turns the read script's reply into a page.
    static func page(from reply: RESPValue, _ request: HistoryRequest) throws -> HistoryPage {
        guard let parts = reply.array, parts.count == 4, let head = parts[0].string.flatMap(EventID.init),
            let trimmed = parts[1].string.flatMap(EventID.init), let entries = parts[3].array
        else { throw RedisError.unexpectedReply("history: \(reply)") }
        let oldest = parts[2].string.flatMap(Self.eventID(fromStreamID:))
        var events: [Event] = []
        events.reserveCapacity(entries.count)
        for entry in entries {
            guard let pair = entry.array, pair.count == 2, let id = pair[0].string.flatMap(Self.eventID(fromStreamID:)),
                let fields = pair[1].array
            else { continue }
            var index = 0
            while index + 1 < fields.count {
                if fields[index].string == "e", let bytes = fields[index + 1].bytes, let event = EventCodec.decode(bytes, id: id) {
                    events.append(event)
                }
                index += 2
            }
        }
        switch request {
        case .latest:
            events.reverse()
            return HistoryPage(events: events, head: head, gap: false, oldestRetained: oldest, hasMore: false)
        case .after(let after, let limit):
            let hasMore = events.count > limit
            if hasMore { events.removeLast(events.count - max(0, limit)) }
            let gap = after.map { $0 != .zero && $0 < trimmed } ?? false
            return HistoryPage(events: events, head: head, gap: gap, oldestRetained: oldest, hasMore: hasMore)
        case .before(_, let limit):
            // Newest first from the script, one more than asked when older events remain.
            let hasMore = events.count > limit
            if hasMore { events.removeLast(events.count - max(0, limit)) }
            events.reverse()
            return HistoryPage(events: events, head: head, gap: false, oldestRetained: oldest, hasMore: hasMore)
        }
    }

    /// `1764421200123456-0` → 1764421200123456.
    static func eventID(fromStreamID text: String) -> EventID? {
        guard let dash = text.firstIndex(of: "-") else { return EventID(text) }
        return EventID(text[..<dash])
    }

    /// Plugins' `hub.history`: blocks the calling hook for at most a second, on the broker's own thread.
    public var historyWaitsForIO: Bool { true }

    public func recentHistory(room: String, count: Int) -> [Event]? {
        do {
            let reply = try blocking.runBlocking(
                RedisScripts.read, keys: [keys.stream(room), keys.meta(room), keys.epoch],
                arguments: Self.readArguments(.latest(count), maxAge: options.maxAge), timeout: .seconds(1))
            return try Self.page(from: reply, .latest(count)).events
        } catch {
            logger.warning("hub.history unavailable", metadata: ["room": "\(room)", "error": "\(error)"])
            return []
        }
    }

    // MARK: Interest

    public func subscribe(room: String) async throws {
        note(room)
        await subscriptions.acquire(room)
    }

    public func unsubscribe(room: String) async throws {
        subscriptions.release(room)
    }

    // MARK: Lifecycle

    public func shutdown() async {
        maintenance.withLock { task in
            task?.cancel()
            task = nil
        }
        await presenceStore.leaveAll()
        await commands.stop()
        await subscriber.stop()
        await blocking.stop()
        try? await subscriberGroup.shutdownGracefully()
        try? await blockingGroup.shutdownGracefully()
        try? await fanoutGroup.shutdownGracefully()
    }

    public func statistics() async -> BrokerStatistics {
        let commandsUp = commands.isConnected
        let subscriberUp = subscriber.isConnected
        var retained = 0
        if commandsUp, let connection = commands.connection {
            let rooms = knownRooms.withLock { Array($0) }
            if !rooms.isEmpty, let replies = try? await connection.pipeline(rooms.map { ["XLEN", .string(keys.stream($0))] }) {
                retained = replies.reduce(0) { $0 + Int($1.int ?? 0) }
            }
        }
        var details: JSONObject = [
            "url": .string(options.endpoint.description),
            "node_id": .string(options.nodeID),
            "connected": .bool(commandsUp),
            "subscriber_connected": .bool(subscriberUp),
            "fanout_pending": .int(Int64(subscriptions.lanes.pendingCount)),
            "reconnects": .int(Int64(max(0, commands.connects - 1))),
            "subscribed_rooms": .int(Int64(subscriptions.roomCount)),
            "publishes_refused": .int(Int64(refused.load(ordering: .relaxed))),
        ]
        if let error = commands.lastError ?? subscriber.lastError { details["last_error"] = .string(error) }
        return BrokerStatistics(kind: "redis", retainedEvents: retained, healthy: commandsUp && subscriberUp, details: details)
    }
}
