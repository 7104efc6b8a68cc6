import Synchronization

/// The room histories an embedded broker keeps in memory (the memory broker's, and the SQLite broker's
/// copy of its file): one `RoomStream` per room that has stored events, under a hub-wide byte cap.
///
/// - Streams exist only for rooms written to; reading a room never creates one.
/// - Past `Limits.maxBytes`, the oldest events go first, across rooms (a client resuming from before them
///   gets the usual `gap` notice).
/// - A stream that retains nothing can be forgotten (`forget`); its newest id is remembered, so that ids
///   in the room keep increasing and a resume from before it is told of the gap. Past
///   `Limits.maxForgottenRooms` remembered rooms the oldest are folded into one floor for every room.
///
/// - Stored events are handed to subscribers after the stream's lock is released, in the order the room
///   stored them (`append`): no lock of the table is held while a delivery runs (and plugins' `on_deliver`
///   filters with it).
///
/// Locks are taken in this order only: the table, then a stream, then the eviction order or the stream's
/// outbox.
package final class StreamTable: Sendable {
    package struct Limits: Sendable {
        /// Events kept per room.
        package var eventsPerRoom: Int
        /// Events older than this many microseconds leave history; 0: no age limit.
        package var maxAgeMicroseconds: Int64 = 0
        /// Bytes (`Event.retainedByteCount`) kept over every room together; 0: no cap.
        package var maxBytes = 0
        /// Forgotten rooms whose newest id is remembered one by one.
        package var maxForgottenRooms = 100_000

        package init(eventsPerRoom: Int, maxAgeMicroseconds: Int64 = 0, maxBytes: Int = 0, maxForgottenRooms: Int = 100_000) {
            self.eventsPerRoom = eventsPerRoom
            self.maxAgeMicroseconds = maxAgeMicroseconds
            self.maxBytes = maxBytes
            self.maxForgottenRooms = maxForgottenRooms
        }
    }

    package let limits: Limits
    private let streams = Mutex<[String: StreamBox]>([:])
    private let order = Mutex(EvictionOrder())
    private let forgotten: Mutex<ForgottenRooms>
    private let totalBytes = Atomic<Int>(0)
    private let totalEvents = Atomic<Int>(0)

    /// - Parameter floor: ids up to it belong to an earlier life of the hub (a resume from before it is a gap).
    package init(limits: Limits, floor: EventID) {
        self.limits = limits
        self.forgotten = Mutex(ForgottenRooms(floor: floor, limit: max(1, limits.maxForgottenRooms)))
    }

    // MARK: Reading

    /// Bytes retained over every room.
    package var retainedBytes: Int { totalBytes.load(ordering: .relaxed) }

    /// Events retained over every room.
    package var retainedEvents: Int { totalEvents.load(ordering: .relaxed) }

    /// Rooms with a stream (retaining events, or not yet forgotten).
    package var streamCount: Int { streams.withLock { $0.count } }

    /// Reads a room's history; a room without a stream reads as empty, with the gap its forgotten past implies.
    package func read(_ room: String, _ request: HistoryRequest) -> HistoryPage {
        if let page = withStream(room, create: false, { stream -> HistoryPage in
            stream.evictExpired()
            return stream.read(request)
        }) {
            return page
        }
        return RoomStream(capacity: 0, floor: base(for: room)).read(request)
    }

    /// Whether the room retains any event now (expired ones dropped first).
    package func retains(_ room: String) -> Bool {
        withStream(room, create: false) { stream -> Bool in
            stream.evictExpired()
            return stream.count > 0
        } ?? false
    }

    /// The newest id of the room's stream, if it has one.
    package func head(of room: String) -> EventID? {
        withStream(room, create: false) { $0.head }
    }

    /// Where a new stream of `room` starts: its newest id when it was forgotten, else the floor.
    package func base(for room: String) -> EventID {
        forgotten.withLock { $0.base(for: room) }
    }

    /// Rooms that retain events, unsorted.
    package func roomsWithEvents() -> [String] {
        let boxes = streams.withLock { Array($0.values) }
        return boxes.filter { box in box.state.withLock { $0.stream.count > 0 } }.map(\.room)
    }

    // MARK: Writing

    /// Runs `body` on the room's stream under its lock (creating the stream if `create`), then keeps the
    /// byte count, the eviction order and the cap. `nil` when the room has no stream and `create` is false.
    package func withStream<T>(_ room: String, create: Bool, _ body: (inout RoomStream) -> T) -> T? {
        withBox(room, create: create) { _, stream in body(&stream) }?.result
    }

    /// Stores an event in the room's stream with `store` (which returns it as stored, with its id), then
    /// hands it to `deliver` once the stream's lock is released. Deliveries of one room run one at a time
    /// and in the order the room stored its events: when another caller is delivering the room's events,
    /// it delivers this one too, and `append` returns at once.
    @discardableResult
    package func append(_ room: String, _ store: (inout RoomStream) -> Event, deliver: (Event) -> Void) -> Event {
        let (box, stored) = withBox(room, create: true) { box, stream -> Event in
            let stored = store(&stream)
            box.outbox.withLock { $0.events.append(stored) }
            return stored
        }!
        box.drainOutbox(deliver)
        return stored
    }

    /// Runs `body` on the room's stream box under the stream's lock, then keeps the accounts and the cap.
    private func withBox<T>(_ room: String, create: Bool, _ body: (StreamBox, inout RoomStream) -> T) -> (box: StreamBox, result: T)? {
        while true {
            guard let box = create ? streamBox(creating: room) : streams.withLock({ $0[room] }) else { return nil }
            let outcome = box.state.withLock { state -> T? in
                guard !state.forgotten else { return nil }
                let before = (bytes: state.stream.bytes, count: state.stream.count, head: state.stream.head)
                let result = body(box, &state.stream)
                account(box, &state, bytesBefore: before.bytes, countBefore: before.count, headBefore: before.head)
                return result
            }
            // A stream forgotten between the lookup and the lock: look it up again (a new one, or none).
            guard let outcome else { continue }
            enforceCap()
            return (box, outcome)
        }
    }

    /// Restores streams read from storage: each room's retained events (oldest first), newest id, and the
    /// id up to which events are known to be gone. A room without events is only remembered.
    package func restore(_ rooms: [(room: String, events: [Event], head: EventID, retainedAfter: EventID)]) {
        var entries: [EvictionOrder.Entry] = []
        streams.withLock { streams in
            for item in rooms {
                var stream = RoomStream(
                    capacity: limits.eventsPerRoom, maxAge: limits.maxAgeMicroseconds, events: item.events, head: item.head,
                    retainedAfter: item.retainedAfter)
                stream.evictExpired()
                guard stream.count > 0 else {
                    forgotten.withLock { $0.remember(item.room, head: stream.head) }
                    continue
                }
                let box = StreamBox(room: item.room, stream: stream)
                streams[item.room] = box
                box.state.withLock { state in
                    for event in state.stream.retained { entries.append(.init(box: box, id: event.id!)) }
                    box.oldest.store(state.stream.oldestID?.value ?? .max, ordering: .relaxed)
                    totalBytes.add(state.stream.bytes, ordering: .relaxed)
                    totalEvents.add(state.stream.count, ordering: .relaxed)
                }
            }
        }
        entries.sort { $0.id < $1.id }
        order.withLock { order in
            for entry in entries { order.push(entry) }
        }
        enforceCap()
    }

    /// Drops the room's stream if it retains nothing (expired events dropped first), remembering its newest
    /// id. Returns true when the room has no stream any more.
    @discardableResult
    package func forget(_ room: String) -> Bool {
        streams.withLock { streams -> Bool in
            guard let box = streams[room] else { return true }
            let gone = box.state.withLock { state -> Bool in
                let before = (bytes: state.stream.bytes, count: state.stream.count, head: state.stream.head)
                state.stream.evictExpired()
                account(box, &state, bytesBefore: before.bytes, countBefore: before.count, headBefore: before.head)
                guard state.stream.count == 0 else { return false }
                state.forgotten = true
                box.oldest.store(.max, ordering: .relaxed)
                return true
            }
            guard gone else { return false }
            streams.removeValue(forKey: room)
            let head = box.state.withLock { $0.stream.head }
            forgotten.withLock { $0.remember(room, head: head) }
            return true
        }
    }

    // MARK: Internals

    private func streamBox(creating room: String) -> StreamBox {
        streams.withLock { streams in
            if let existing = streams[room] { return existing }
            let floor = forgotten.withLock { $0.take(room) }
            let box = StreamBox(
                room: room, stream: RoomStream(capacity: limits.eventsPerRoom, floor: floor, maxAge: limits.maxAgeMicroseconds))
            streams[room] = box
            return box
        }
    }

    /// After a change to a stream (under its lock): the totals, the oldest id, and an eviction-order entry
    /// for each event appended.
    private func account(_ box: StreamBox, _ state: inout StreamBox.State, bytesBefore: Int, countBefore: Int, headBefore: EventID) {
        let stream = state.stream
        if stream.bytes != bytesBefore { totalBytes.add(stream.bytes - bytesBefore, ordering: .relaxed) }
        if stream.count != countBefore { totalEvents.add(stream.count - countBefore, ordering: .relaxed) }
        box.oldest.store(stream.oldestID?.value ?? .max, ordering: .relaxed)
        guard stream.head > headBefore, limits.maxBytes > 0 else { return }
        var appended: [EvictionOrder.Entry] = []
        for event in stream.retained.reversed() {
            guard let id = event.id, id > headBefore else { break }
            appended.append(.init(box: box, id: id))
        }
        guard !appended.isEmpty else { return }
        let live = totalEvents.load(ordering: .relaxed)
        order.withLock { order in
            for entry in appended.reversed() { order.push(entry) }
            order.compactIfStale(live: live)
        }
    }

    /// Evicts the oldest events across rooms until the retained bytes are within the cap.
    private func enforceCap() {
        guard limits.maxBytes > 0 else { return }
        while totalBytes.load(ordering: .relaxed) > limits.maxBytes {
            guard let entry = order.withLock({ $0.popFront() }) else { return }
            guard !entry.isStale else { continue }
            entry.box.state.withLock { state in
                guard !state.forgotten, state.stream.oldestID == entry.id else { return }
                let before = (bytes: state.stream.bytes, count: state.stream.count)
                state.stream.evictOldest()
                totalBytes.add(state.stream.bytes - before.bytes, ordering: .relaxed)
                totalEvents.add(state.stream.count - before.count, ordering: .relaxed)
                entry.box.oldest.store(state.stream.oldestID?.value ?? .max, ordering: .relaxed)
            }
        }
    }
}

/// A room's stream behind its own lock.
private final class StreamBox: Sendable {
    struct State {
        var stream: RoomStream
        /// Set when the table dropped the stream: a writer holding the box looks the room up again.
        var forgotten = false
    }

    /// Stored events waiting to be delivered, in the order they were stored; `draining` while a caller
    /// delivers them.
    struct Outbox {
        var events: [Event] = []
        var draining = false
    }

    let room: String
    let state: Mutex<State>
    let outbox = Mutex(Outbox())
    /// The oldest retained id (`Int64.max` when none), readable without the lock.
    let oldest = Atomic<Int64>(.max)

    init(room: String, stream: RoomStream) {
        self.room = room
        self.state = Mutex(State(stream: stream))
    }

    /// Delivers what the outbox holds, in order, without holding a lock during a delivery; returns at once
    /// when another caller is delivering (it takes the events queued meanwhile too).
    func drainOutbox(_ deliver: (Event) -> Void) {
        let claimed = outbox.withLock { outbox -> Bool in
            guard !outbox.draining else { return false }
            outbox.draining = true
            return true
        }
        guard claimed else { return }
        while true {
            let batch = outbox.withLock { outbox -> [Event] in
                guard !outbox.events.isEmpty else {
                    outbox.draining = false
                    return []
                }
                defer { outbox.events.removeAll(keepingCapacity: true) }
                return outbox.events
            }
            guard !batch.isEmpty else { return }
            for event in batch { deliver(event) }
        }
    }
}

/// Every stored event in the order it was stored, for evicting the oldest first across rooms. Entries of
/// events already gone (pushed out by a room's own limits) are skipped, and swept out once they
/// outnumber the live ones.
private struct EvictionOrder {
    struct Entry {
        let box: StreamBox
        let id: EventID
        /// The event has left its stream already.
        var isStale: Bool { id.value < box.oldest.load(ordering: .relaxed) }
    }

    private var entries: [Entry] = []
    private var start = 0

    var count: Int { entries.count - start }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
    }

    mutating func popFront() -> Entry? {
        guard start < entries.count else { return nil }
        let entry = entries[start]
        start += 1
        if start > 1024, start * 2 > entries.count {
            entries.removeFirst(start)
            start = 0
        }
        return entry
    }

    /// Drops stale entries when they make up most of the order (amortised O(1) per event).
    mutating func compactIfStale(live: Int) {
        guard count > 2 * live + 1024 else { return }
        entries = entries[start...].filter { !$0.isStale }
        start = 0
    }
}

/// The newest ids of rooms whose streams were forgotten.
private struct ForgottenRooms {
    /// Where a room nothing is remembered of starts.
    private(set) var floor: EventID
    private var heads: [String: EventID] = [:]
    /// Rooms in the order they were remembered (entries of rooms taken back since are stale).
    private var queue: [(room: String, head: EventID)] = []
    private var start = 0
    let limit: Int

    init(floor: EventID, limit: Int) {
        self.floor = floor
        self.limit = limit
    }

    func base(for room: String) -> EventID {
        heads[room] ?? floor
    }

    /// Where a new stream of `room` starts; the room is no longer remembered apart.
    mutating func take(_ room: String) -> EventID {
        heads.removeValue(forKey: room) ?? floor
    }

    mutating func remember(_ room: String, head: EventID) {
        guard head > floor else { return }
        heads[room] = head
        queue.append((room, head))
        while heads.count > limit, start < queue.count {
            let oldest = queue[start]
            start += 1
            guard heads[oldest.room] == oldest.head else { continue }
            heads.removeValue(forKey: oldest.room)
            if oldest.head > floor { floor = oldest.head }
        }
        if queue.count - start > 2 * heads.count + 1024 {
            queue = queue[start...].filter { heads[$0.room] == $0.head }
            start = 0
        }
    }
}
