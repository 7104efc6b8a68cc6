/// One room's bounded history and id counter, as the embedded brokers keep it (the SQLite broker too, as
/// its in-memory copy). Not thread-safe; `StreamTable` keeps each behind a lock.
package struct RoomStream {
    /// Retained events, oldest first, from `start` on (the slots before `start` are dropped lazily).
    private var events: [Event] = []
    /// The size (`Event.retainedByteCount`) of each event in `events`, at the same positions.
    private var sizes: [Int] = []
    /// Index in `events` of the oldest retained event.
    private var start = 0
    package let capacity: Int
    /// Events older than this many microseconds (by id: ids are publish times) are evicted; 0: no age limit.
    package let maxAge: Int64
    /// The newest id assigned.
    package private(set) var head: EventID
    /// Every event after this id is retained (or none was published); events up to it may have been lost.
    package private(set) var retainedAfter: EventID
    /// The sizes of the retained events, together.
    package private(set) var bytes = 0

    /// A stream whose history is unknown up to `floor` (ids up to it belong to an earlier life of the room).
    package init(capacity: Int, floor: EventID, maxAge: Int64 = 0) {
        self.capacity = max(0, capacity)
        self.maxAge = max(0, maxAge)
        self.head = floor
        self.retainedAfter = floor
    }

    /// A stream restored from storage: `events` oldest first (ids increasing), newest `head`, and events up
    /// to `retainedAfter` known to be gone.
    package init(capacity: Int, maxAge: Int64 = 0, events restored: [Event], head: EventID, retainedAfter: EventID) {
        self.init(capacity: capacity, floor: retainedAfter, maxAge: maxAge)
        for event in restored { appendStored(event) }
        if head > self.head { self.head = head }
    }

    package var count: Int { events.count - start }

    /// The id of the oldest retained event.
    package var oldestID: EventID? { count > 0 ? events[start].id : nil }

    /// Assigns the next id to `event` and appends it, evicting the oldest event if full.
    package mutating func append(_ event: Event) -> Event {
        var stored = event
        stored.id = EventID.next(after: head)
        stored.ephemeralID = ""
        appendStored(stored)
        return stored
    }

    /// Appends an event that already has its id (greater than `head`), evicting the oldest if full.
    package mutating func appendStored(_ stored: Event) {
        guard let id = stored.id, id > head else { return }
        head = id
        if capacity == 0 {
            retainedAfter = id
            return
        }
        events.append(stored)
        let size = stored.retainedByteCount
        sizes.append(size)
        bytes += size
        while count > capacity { evictOldest() }
        evictExpired(now: id)
        compact()
    }

    /// Drops events older than the age limit at `now` (an id: microseconds since 1970).
    package mutating func evictExpired(now: EventID = .now()) {
        guard maxAge > 0 else { return }
        let cutoff = now.value - maxAge
        while count > 0, events[start].id!.value < cutoff { evictOldest() }
        compact()
    }

    /// Drops the oldest retained event (a resume from before it is told of the gap); returns its size.
    @discardableResult
    package mutating func evictOldest() -> Int {
        guard count > 0 else { return 0 }
        retainedAfter = events[start].id!
        let size = sizes[start]
        bytes -= size
        start += 1
        compact()
        return size
    }

    /// Reclaims the dropped slots once they outnumber the retained ones (amortized O(1) per event).
    private mutating func compact() {
        if start > 0, start >= count {
            events.removeFirst(start)
            sizes.removeFirst(start)
            start = 0
        }
    }

    /// The retained event at logical position `index` (0 = oldest).
    private func event(at index: Int) -> Event {
        events[start + index]
    }

    /// Logical index of the first event with an id greater than `id`.
    private func firstIndex(after id: EventID) -> Int {
        firstIndex { $0 > id }
    }

    /// Logical index of the first event whose id passes `isPast` (ids are sorted, so the test flips once).
    private func firstIndex(where isPast: (EventID) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if !isPast(event(at: mid).id!) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The retained events, oldest first.
    package var retained: ArraySlice<Event> { events[start...] }

    package func read(_ request: HistoryRequest) -> HistoryPage {
        let total = count
        let oldest = total == 0 ? nil : event(at: 0).id
        switch request {
        case .latest(let wanted):
            let n = max(0, min(wanted, total))
            let slice = Array(events[(start + total - n)...])
            return HistoryPage(events: slice, head: head, gap: false, oldestRetained: oldest, hasMore: false)
        case .after(let after, let limit):
            let from = after.map(firstIndex(after:)) ?? 0
            let to = min(total, from + max(0, limit))
            let slice = Array(events[(start + from)..<(start + to)])
            let gap = after.map { $0 != .zero && $0 < retainedAfter } ?? false
            return HistoryPage(events: slice, head: head, gap: gap, oldestRetained: oldest, hasMore: to < total)
        case .before(let before, let limit):
            let to = firstIndex { $0 >= before }
            let from = max(0, to - max(0, limit))
            let slice = Array(events[(start + from)..<(start + to)])
            return HistoryPage(events: slice, head: head, gap: false, oldestRetained: oldest, hasMore: from > 0)
        }
    }
}

extension Event {
    /// About how many bytes the event takes in a room's history (its data, names and a fixed overhead).
    package var retainedByteCount: Int {
        data.approximateByteCount + type.rawValue.utf8.count + userID.utf8.count + (roomID?.utf8.count ?? 0)
            + (origin?.utf8.count ?? 0) + 160
    }
}
