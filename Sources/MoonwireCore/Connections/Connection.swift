import Synchronization

/// One client connection: who it is, the rooms it follows, and its bounded outbound queue.
///
/// The hub queues events here without waiting; `pump(into:)` drains them into the transport. When the
/// queue holds more than its byte bound, the connection is closed as a slow consumer and the queue dropped,
/// so a client that stops reading never holds up anyone else.
public final class Connection: Sendable {
    /// Unique id of the connection.
    public let id: String
    public let transport: TransportKind
    public let identity: Identity
    /// The peer's address, when the transport knows it.
    public let remoteAddress: String?
    public let connectedAt: Timestamp
    /// Bound of the outbound queue, in bytes.
    public let queueLimit: Int
    /// Time for liveness and closing (the hub's clock).
    let clock: any HubClock

    let state: Mutex<ConnectionState>
    private let abortHandler = Mutex<(@Sendable () -> Void)?>(nil)
    private let pendingWritesProbe = Mutex<(@Sendable () async -> Int?)?>(nil)
    /// While closing: the bytes last seen waiting in the transport, and when they last went down (monotonic ns).
    private let flushProgress = Mutex<(pending: Int?, at: UInt64)>((nil, 0))
    private let lastSeen: Atomic<UInt64>
    private let lastWrite: Atomic<UInt64>
    /// Long-poll requests in progress on this session.
    let activePolls = Atomic<Int>(0)
    /// When a long-poll session last polled each room (monotonic ns), and how many polls of it are open.
    private let polledRooms = Mutex<[String: (last: UInt64, open: Int)]>([:])

    /// Records that a poll of `rooms` starts (`delta` 1) or ends (`delta` -1) now.
    func markPolled(_ rooms: [String], delta: Int) {
        let now = clock.now()
        polledRooms.withLock { polled in
            for room in rooms {
                let open = max(0, (polled[room]?.open ?? 0) + delta)
                polled[room] = (now, open)
            }
        }
    }

    /// Rooms no poll of the session has asked for in `age` nanoseconds (forgotten once returned).
    func roomsNotPolled(for age: UInt64, now: UInt64) -> [String] {
        polledRooms.withLock { polled in
            let stale = polled.filter { $0.value.open == 0 && now > $0.value.last && now - $0.value.last > age }.map(\.key)
            for room in stale { polled.removeValue(forKey: room) }
            return stale
        }
    }

    public init(transport: TransportKind, identity: Identity, remoteAddress: String?, queueLimit: Int, clock: any HubClock = SystemClock()) {
        self.id = RandomID.token(length: 16)
        self.transport = transport
        self.identity = identity
        self.remoteAddress = remoteAddress
        self.connectedAt = .now()
        self.queueLimit = queueLimit
        self.state = Mutex(ConnectionState(clock: clock))
        self.clock = clock
        let now = clock.now()
        self.lastSeen = Atomic(now)
        self.lastWrite = Atomic(now)
    }

    public var userID: String { identity.userID }

    // MARK: Liveness

    /// Records that the client sent something.
    public func markSeen() {
        lastSeen.store(clock.now(), ordering: .relaxed)
    }

    /// Moves the last sign of life forward to `floor` unless it is later already.
    func markSeen(atLeast floor: UInt64) {
        var seen = lastSeen.load(ordering: .relaxed)
        while seen < floor {
            let (exchanged, original) = lastSeen.compareExchange(expected: seen, desired: floor, ordering: .relaxed)
            if exchanged { return }
            seen = original
        }
    }

    /// Nanoseconds since the client last sent something.
    public func silence(now: UInt64) -> UInt64 {
        let seen = lastSeen.load(ordering: .relaxed)
        return now > seen ? now - seen : 0
    }

    /// Nanoseconds since the pump last handed anything to the transport.
    func idleWriting(now: UInt64) -> UInt64 {
        let written = lastWrite.load(ordering: .relaxed)
        return now > written ? now - written : 0
    }

    // MARK: Queue

    /// Queues an item. Returns false when the connection is closing or the item overflowed the queue.
    @discardableResult
    public func enqueue(_ item: OutboundItem) -> Bool {
        let (accepted, waiter) = state.withLock { state in
            state.enqueue(item, limit: queueLimit)
        }
        waiter?.resume()
        return accepted
    }

    /// Queues an event for this connection alone (replies, errors, welcome).
    @discardableResult
    public func send(_ event: Event) -> Bool {
        enqueue(.event(EncodedEvent(event)))
    }

    /// Starts closing: the pump sends what is queued (unless `discardQueued`), then closes the transport.
    public func close(_ reason: DisconnectReason, discardQueued: Bool = false) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.beginClosing(reason, discardQueued: discardQueued)
        }
        waiter?.resume()
    }

    /// Sets how to drop the connection at once (close the socket) when a close cannot complete:
    /// a client that does not read blocks the final writes, so the hub aborts it after a grace period.
    public func onAbort(_ handler: @escaping @Sendable () -> Void) {
        abortHandler.withLock { $0 = handler }
    }

    /// Drops the connection at once, without waiting for queued writes.
    public func abort() {
        abortHandler.withLock { $0 }?()
    }

    /// Sets how to read the bytes still waiting in the transport to be written to the client. While the
    /// connection closes, a count that goes down shows the client still reads, so its last frames get time.
    public func onPendingWrites(_ probe: @escaping @Sendable () async -> Int?) {
        pendingWritesProbe.withLock { $0 = probe }
    }

    /// Whether a closing connection is to be dropped: its last writes made no progress (the bytes waiting
    /// did not go down) for `grace` nanoseconds, or it has been closing for more than `limit`. Each call
    /// takes one reading of the waiting bytes; nothing waiting counts as progress. `false` while open.
    func closeIsStuck(now: UInt64, grace: UInt64, limit: UInt64) async -> Bool {
        guard let since = state.withLock({ $0.closingSince }) else { return false }
        if now > since, now - since > limit { return true }
        let probe = pendingWritesProbe.withLock { $0 }
        let pending = await probe?()
        let lastProgress = flushProgress.withLock { progress in
            if let pending {
                if pending == 0 || progress.pending.map({ pending < $0 }) == true { progress.at = now }
                progress.pending = pending
            }
            return max(progress.at, since)
        }
        return now > lastProgress && now - lastProgress > grace
    }

    /// The reason the connection is closing, once it is.
    public var closeReason: DisconnectReason? {
        state.withLock { $0.closing }
    }

    /// Bytes waiting in the outbound queue.
    public var queuedBytes: Int {
        state.withLock { $0.queuedBytes }
    }

    /// Takes what is queued now without waiting (for tests and tools); `nil` when nothing is.
    public func takeQueued() -> [OutboundItem]? {
        state.withLock { state in
            guard !state.queue.isEmpty else { return nil }
            defer { state.queue = []; state.queuedBytes = 0 }
            return state.queue
        }
    }

    /// Lets live events bypass the queue while it is empty and `sink` accepts writes (see `DirectSink`).
    public func attachDirectSink(_ sink: any DirectSink) {
        state.withLock { $0.directSink = sink }
    }

    /// Waits for the next batch of queued items, or the reason the connection closes.
    func nextBatch() async -> ConnectionState.Batch {
        while true {
            if let batch = state.withLock({ $0.takeBatch() }) { return batch }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.hasWork { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// Drains the queue into `transport` until the connection closes or the transport fails.
    /// Returns why the connection ended.
    public func pump<T: Transport>(into transport: inout T) async -> DisconnectReason {
        while true {
            switch await nextBatch() {
            case .items(let items):
                do {
                    try await transport.write(items)
                    lastWrite.store(clock.now(), ordering: .relaxed)
                } catch {
                    let reason = closeReason ?? .transportError
                    close(reason, discardQueued: true)
                    return reason
                }
            case .closed(let reason):
                await transport.close(reason)
                return reason
            }
        }
    }

    // MARK: Rooms

    /// Rooms this connection follows.
    public var rooms: [String] {
        state.withLock { Array($0.subscriptions.keys) }
    }

    /// Whether this connection follows `room`.
    public func isSubscribed(to room: String) -> Bool {
        state.withLock { $0.subscriptions[room] != nil }
    }

    /// The last stored event id this connection got in `room`.
    public func position(in room: String) -> EventID? {
        state.withLock { $0.subscriptions[room]?.cursor }
    }

    /// Starts following `room`; live stored events are held back until `finishReplay` runs.
    /// Returns false if the connection already follows it.
    func beginSubscription(_ room: String) -> Bool {
        state.withLock { state in
            guard state.subscriptions[room] == nil else { return false }
            state.subscriptions[room] = Subscription(cursor: nil, held: [])
            return true
        }
    }

    /// Queues the replay of `room` (a gap notice first, if any), then the live events held back meanwhile
    /// that are newer than both the replay and `position` (the room's newest id when history was read);
    /// from then on events flow live.
    func finishReplay(_ room: String, notice: Event?, replay: [EncodedEvent], position: EventID?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var subscription = state.subscriptions[room] else { return nil }
            var waiter: CheckedContinuation<Void, Never>?
            func push(_ item: OutboundItem) {
                let result = state.enqueue(item, limit: queueLimit)
                if let w = result.waiter { waiter = w }
            }
            if let notice { push(.event(EncodedEvent(notice))) }
            // A replay may not take more than half the queue: keep the newest events that fit and
            // report the rest as a gap, so a join never overflows its own connection.
            var replay = replay
            var budget = queueLimit / 2 - state.queuedBytes
            var firstKept = replay.count
            while firstKept > 0, replay[firstKept - 1].queuedSize <= budget {
                budget -= replay[firstKept - 1].queuedSize
                firstKept -= 1
            }
            if firstKept > 0 {
                replay.removeFirst(firstKept)
                push(.event(EncodedEvent(Self.truncatedReplayNotice(room: room, firstKept: replay.first?.event.id, skipped: firstKept))))
            }
            var cursor = position
            for encoded in replay {
                push(.event(encoded))
                if let id = encoded.event.id, cursor.map({ id > $0 }) ?? true { cursor = id }
            }
            for encoded in subscription.held ?? [] {
                if let id = encoded.event.id {
                    if let cursor, id <= cursor { continue }
                    cursor = id
                }
                push(.event(encoded))
            }
            subscription.cursor = cursor
            subscription.held = nil
            if state.subscriptions[room] != nil { state.subscriptions[room] = subscription }
            return waiter
        }
        waiter?.resume()
    }

    /// The `gap` event sent when a replay was cut to fit the outbound queue.
    static func truncatedReplayNotice(room: String, firstKept: EventID?, skipped: Int) -> Event {
        Event(
            type: .gap, userID: Event.systemUser, roomID: room,
            data: [
                "room_id": .string(room),
                "skipped": .int(Int64(skipped)),
                "first_replayed_id": firstKept.map { .string($0.description) } ?? .null,
                "message": .string(
                    "\(skipped) older events of '\(room)' did not fit the outbound queue; the server API's room history has them"),
            ])
    }

    /// Stops following `room`. Returns false if it did not follow it.
    @discardableResult
    func endSubscription(_ room: String) -> Bool {
        state.withLock { $0.subscriptions.removeValue(forKey: room) != nil }
    }

    /// Queues a live event of `room` unless the connection already has it (by id) or no longer follows the room.
    func deliver(_ encoded: EncodedEvent, room: String) -> DeliveryOutcome {
        let (outcome, waiter) = state.withLock { state -> (DeliveryOutcome, CheckedContinuation<Void, Never>?) in
            guard var subscription = state.subscriptions[room], state.closing == nil else { return (.skipped, nil) }
            if let id = encoded.event.id {
                if subscription.held != nil {
                    subscription.held!.append(encoded)
                    state.subscriptions[room] = subscription
                    return (.delivered, nil)
                }
                if let cursor = subscription.cursor, id <= cursor { return (.skipped, nil) }
                subscription.cursor = id
                state.subscriptions[room] = subscription
            }
            // The pump is asleep with nothing queued: nothing can be ahead of this event, write it now.
            if state.queue.isEmpty, state.waiter != nil, let sink = state.directSink, sink.acceptsDirectWrites {
                sink.writeDirect(encoded)
                if transport == .sse { lastWrite.store(clock.now(), ordering: .relaxed) }
                return (.delivered, nil)
            }
            let result = state.enqueue(.event(encoded), limit: queueLimit)
            return (result.accepted ? .delivered : .overflowed, result.waiter)
        }
        waiter?.resume()
        return outcome
    }
}

/// What became of one delivery.
enum DeliveryOutcome {
    case delivered
    /// Already delivered, or the connection no longer follows the room or is closing.
    case skipped
    /// The queue passed its bound: the connection is being closed as a slow consumer.
    case overflowed
}

/// A connection's mutable state, guarded by its lock.
struct ConnectionState {
    enum Batch {
        case items([OutboundItem])
        case closed(DisconnectReason)
    }

    /// The connection's clock (for when closing began).
    let clock: any HubClock
    var queue: [OutboundItem] = []
    var queuedBytes = 0
    var waiter: CheckedContinuation<Void, Never>?
    var closing: DisconnectReason?
    var closingSince: UInt64?
    var finished = false
    var subscriptions: [String: Subscription] = [:]
    /// Where live events go while the queue is empty and the pump waits, if the transport offers it.
    var directSink: (any DirectSink)?

    var hasWork: Bool { !queue.isEmpty || closing != nil }

    mutating func enqueue(_ item: OutboundItem, limit: Int) -> (accepted: Bool, waiter: CheckedContinuation<Void, Never>?) {
        guard closing == nil else { return (false, nil) }
        let size: Int
        switch item {
        case .event(let encoded): size = encoded.queuedSize
        case .keepAlive: size = 16
        }
        if queuedBytes + size > limit {
            return (false, beginClosing(.slowConsumer, discardQueued: true))
        }
        queue.append(item)
        queuedBytes += size
        return (true, takeWaiter())
    }

    mutating func beginClosing(_ reason: DisconnectReason, discardQueued: Bool) -> CheckedContinuation<Void, Never>? {
        if closing == nil {
            closing = reason
            closingSince = clock.now()
            directSink = nil
        }
        if discardQueued {
            queue.removeAll()
            queuedBytes = 0
        }
        return takeWaiter()
    }

    mutating func takeWaiter() -> CheckedContinuation<Void, Never>? {
        defer { waiter = nil }
        return waiter
    }

    mutating func takeBatch() -> Batch? {
        if !queue.isEmpty {
            let items = queue
            queue = []
            queuedBytes = 0
            return .items(items)
        }
        if let closing, !finished {
            finished = true
            return .closed(closing)
        }
        if let closing { return .closed(closing) }
        return nil
    }
}

/// A connection's position in one room.
struct Subscription {
    /// Newest stored event id delivered.
    var cursor: EventID?
    /// Live stored events that arrived while the room's history was being replayed; `nil` once live.
    var held: [EncodedEvent]?
}
