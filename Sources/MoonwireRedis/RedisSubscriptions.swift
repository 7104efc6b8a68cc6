import Logging
import MoonwireCore
import NIOCore
import Synchronization

/// This node's pub/sub interest in rooms, and the delivery of their events to the hub in id order.
///
/// - Interest is counted (`acquire`/`release`): the first subscribes the room's channel and waits for
///   Redis to confirm, so history read afterwards overlaps live events; the room is unsubscribed once it
///   has had no interest for `linger` (a long-poll client polling again soon finds it still subscribed).
/// - Events are read on the subscriber connection's event loop (one thread) and delivered on `FanoutLanes`
///   (a room always on the same lane), so rooms are delivered in parallel and a room's events reach the
///   sink in the order Redis published them; a stored event not newer than the last one delivered is dropped.
/// - After a reconnect each room catches up from its stream: events published while the subscriber was
///   away are read and delivered first, the live ones that arrive meanwhile held back until then.
final class RedisSubscriptions: Sendable {
    private struct RoomState {
        var references = 0
        /// SUBSCRIBE was sent on the current connection.
        var requested = false
        var confirmed = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var lastDelivered: EventID?
        var needsCatchUp = false
        var catchingUp = false
        var held: [Event] = []
        var idleSince: ContinuousClock.Instant?
    }

    private struct State {
        var rooms: [String: RoomState] = [:]
        var connection: RedisConnection?
        var nextWaiter = 0
        var everConnected = false
    }

    private let keys: RedisKeys
    private let linger: Duration
    private let confirmTimeout: Duration
    private let logger: Logger
    private let state = Mutex(State())
    private let sink = Mutex<(any BrokerSink)?>(nil)
    let lanes: FanoutLanes
    /// Reads a room's stream after an id (`nil`: its newest events), for catching up.
    private let catchUpRead: @Sendable (String, EventID?) async throws -> [Event]

    init(
        keys: RedisKeys, linger: Duration, confirmTimeout: Duration = .seconds(2), logger: Logger, lanes: FanoutLanes,
        catchUpRead: @escaping @Sendable (String, EventID?) async throws -> [Event]
    ) {
        self.lanes = lanes
        self.keys = keys
        self.linger = linger
        self.confirmTimeout = confirmTimeout
        self.logger = logger
        self.catchUpRead = catchUpRead
    }

    func attach(_ sink: any BrokerSink) {
        self.sink.withLock { $0 = sink }
    }

    /// Rooms with interest now.
    var roomCount: Int { state.withLock { $0.rooms.values.filter { $0.references > 0 }.count } }

    // MARK: Interest

    /// One more reason to receive `room`; returns once the subscription is confirmed (or at once when
    /// there is no connection: the room is subscribed on reconnect).
    func acquire(_ room: String) async {
        let waiter = state.withLock { state -> Int? in
            var entry = state.rooms[room] ?? RoomState()
            entry.references += 1
            entry.idleSince = nil
            defer { state.rooms[room] = entry }
            guard let connection = state.connection else { return nil }
            if !entry.requested {
                entry.requested = true
                connection.sendWithoutReply([["SUBSCRIBE", .string(keys.channel(room))]])
            }
            if entry.confirmed { return nil }
            state.nextWaiter += 1
            return state.nextWaiter
        }
        guard let waiter else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { state -> Bool in
                        guard var entry = state.rooms[room], !entry.confirmed, state.connection != nil else { return true }
                        entry.waiters[waiter] = continuation
                        state.rooms[room] = entry
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: self.confirmTimeout)
                let continuation = self.state.withLock { state in state.rooms[room]?.waiters.removeValue(forKey: waiter) }
                continuation?.resume()
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Balances one `acquire`.
    func release(_ room: String) {
        state.withLock { state in
            guard var entry = state.rooms[room] else { return }
            entry.references = max(0, entry.references - 1)
            if entry.references == 0 { entry.idleSince = .now }
            state.rooms[room] = entry
        }
    }

    /// Unsubscribes rooms idle for longer than the linger time.
    func sweepIdle(now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            let idle = state.rooms.filter { $0.value.references == 0 && ($0.value.idleSince.map { now - $0 >= linger } ?? false) }
            guard !idle.isEmpty else { return }
            for room in idle.keys {
                state.rooms.removeValue(forKey: room)
            }
            state.connection?.sendWithoutReply(idle.keys.map { ["UNSUBSCRIBE", .string(keys.channel($0))] })
        }
    }

    // MARK: Connection

    /// A new subscriber connection: subscribes every room of interest again; they catch up once confirmed.
    func connected(_ connection: RedisConnection) {
        state.withLock { state in
            state.connection = connection
            let reconnected = state.everConnected
            state.everConnected = true
            var channels: [[RedisArgument]] = []
            for room in state.rooms.keys {
                state.rooms[room]!.requested = true
                state.rooms[room]!.confirmed = false
                if reconnected { state.rooms[room]!.needsCatchUp = true }
                channels.append(["SUBSCRIBE", .string(keys.channel(room))])
            }
            connection.sendWithoutReply(channels)
        }
    }

    /// The subscriber connection is gone: waiting acquirers go on, every room will catch up.
    func disconnected(_ connection: RedisConnection) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.connection === connection else { return [] }
            state.connection = nil
            var waiters: [CheckedContinuation<Void, Never>] = []
            for room in state.rooms.keys {
                waiters.append(contentsOf: state.rooms[room]!.waiters.values)
                state.rooms[room]!.waiters = [:]
                state.rooms[room]!.requested = false
                state.rooms[room]!.confirmed = false
                state.rooms[room]!.needsCatchUp = true
            }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Messages

    /// A reply on the subscriber connection (on its event loop).
    func handle(_ value: RESPValue, on eventLoop: any EventLoop) {
        guard let items = value.array, items.count >= 2, let kind = items[0].string?.lowercased() else { return }
        switch kind {
        case "message":
            guard items.count >= 3, let channel = items[1].string, let room = keys.room(ofChannel: channel),
                let payload = items[2].bytes, let event = Self.decode(payload)
            else { return }
            received(event, room: room)
        case "subscribe":
            guard let channel = items[1].string, let room = keys.room(ofChannel: channel) else { return }
            confirmed(room, on: eventLoop)
        case "unsubscribe":
            guard let channel = items[1].string, let room = keys.room(ofChannel: channel) else { return }
            state.withLock { state in
                if state.rooms[room]?.requested == false { state.rooms[room]?.confirmed = false }
            }
        default:
            break
        }
    }

    /// `ID JSON` for a stored event, `- JSON` for an ephemeral one.
    static func decode(_ payload: [UInt8]) -> Event? {
        guard let space = payload.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let head = payload[..<space]
        let id: EventID?
        if head.elementsEqual("-".utf8) {
            id = nil
        } else {
            guard let parsed = EventID(String(decoding: head, as: UTF8.self)) else { return nil }
            id = parsed
        }
        return EventCodec.decode(payload[(space + 1)...], id: id)
    }

    private func received(_ event: Event, room: String) {
        let deliver = state.withLock { state -> Bool in
            guard var entry = state.rooms[room] else { return false }
            defer { state.rooms[room] = entry }
            if entry.catchingUp {
                entry.held.append(event)
                return false
            }
            return Self.accept(event, into: &entry)
        }
        if deliver, let sink = sink.withLock({ $0 }) { lanes.deliver([event], room: room, to: sink) }
    }

    /// Whether `event` is new to the room (stored events: newer than the last delivered), noting it.
    private static func accept(_ event: Event, into entry: inout RoomState) -> Bool {
        guard let id = event.id else { return true }
        if let last = entry.lastDelivered, id <= last { return false }
        entry.lastDelivered = id
        return true
    }

    private func confirmed(_ room: String, on eventLoop: any EventLoop) {
        let (waiters, catchUpAfter, catchUp) = state.withLock { state -> ([CheckedContinuation<Void, Never>], EventID?, Bool) in
            guard var entry = state.rooms[room] else { return ([], nil, false) }
            defer { state.rooms[room] = entry }
            entry.confirmed = true
            let waiters = Array(entry.waiters.values)
            entry.waiters = [:]
            guard entry.needsCatchUp, !entry.catchingUp else { return (waiters, nil, false) }
            entry.needsCatchUp = false
            entry.catchingUp = true
            return (waiters, entry.lastDelivered, true)
        }
        for waiter in waiters { waiter.resume() }
        guard catchUp else { return }
        Task {
            var missed: [Event] = []
            do {
                missed = try await self.catchUpRead(room, catchUpAfter)
            } catch {
                self.logger.warning("catching up a room after reconnecting failed", metadata: ["room": "\(room)", "error": "\(error)"])
            }
            let events = missed
            eventLoop.execute { self.finishCatchUp(room, with: events) }
        }
    }

    /// Delivers what was missed, then what arrived meanwhile (on the subscriber event loop).
    private func finishCatchUp(_ room: String, with missed: [Event]) {
        let deliveries = state.withLock { state -> [Event] in
            guard var entry = state.rooms[room] else { return [] }
            defer { state.rooms[room] = entry }
            var deliveries: [Event] = []
            for event in missed + entry.held where Self.accept(event, into: &entry) {
                deliveries.append(event)
            }
            entry.held = []
            entry.catchingUp = false
            return deliveries
        }
        guard !deliveries.isEmpty, let sink = sink.withLock({ $0 }) else { return }
        logger.debug("caught up after reconnecting", metadata: ["room": "\(room)", "events": "\(deliveries.count)"])
        lanes.deliver(deliveries, room: room, to: sink)
    }
}
