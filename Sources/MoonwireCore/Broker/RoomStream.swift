/// One room's bounded history and id counter, as the in-memory broker keeps it. Not thread-safe.
struct RoomStream {
    /// Retained events, oldest first, at most `capacity`.
    private var events: [Event] = []
    /// Index of the oldest event in `events` (a ring once full).
    private var start = 0
    let capacity: Int
    /// The newest id assigned.
    private(set) var head: EventID
    /// Every event after this id is retained (or none was published); events up to it may have been lost.
    private(set) var retainedAfter: EventID

    /// A stream whose history is unknown up to `floor` (ids before it belong to an earlier life of the hub).
    init(capacity: Int, floor: EventID) {
        self.capacity = max(0, capacity)
        self.head = floor
        self.retainedAfter = floor
    }

    var count: Int { events.count }

    /// Assigns the next id to `event` and appends it, evicting the oldest event if full.
    mutating func append(_ event: Event) -> Event {
        var stored = event
        let id = EventID.next(after: head)
        stored.id = id
        stored.ephemeralID = ""
        head = id
        if capacity == 0 {
            retainedAfter = id
        } else if events.count < capacity {
            events.append(stored)
        } else {
            retainedAfter = events[start].id!
            events[start] = stored
            start = (start + 1) % capacity
        }
        return stored
    }

    /// The retained event at logical position `index` (0 = oldest).
    private func event(at index: Int) -> Event {
        events[(start + index) % events.count]
    }

    /// Logical index of the first event with an id greater than `id`.
    private func firstIndex(after id: EventID) -> Int {
        var low = 0
        var high = events.count
        while low < high {
            let mid = (low + high) / 2
            if event(at: mid).id! <= id { low = mid + 1 } else { high = mid }
        }
        return low
    }

    func read(_ request: HistoryRequest) -> HistoryPage {
        let oldest = events.isEmpty ? nil : event(at: 0).id
        switch request {
        case .latest(let count):
            let n = max(0, min(count, events.count))
            let slice = (events.count - n..<events.count).map(event(at:))
            return HistoryPage(events: slice, head: head, gap: false, oldestRetained: oldest, hasMore: false)
        case .after(let after, let limit):
            let from = after.map(firstIndex(after:)) ?? 0
            let to = min(events.count, from + max(0, limit))
            let slice = (from..<to).map(event(at:))
            let gap = after.map { $0 != .zero && $0 < retainedAfter } ?? false
            return HistoryPage(events: slice, head: head, gap: gap, oldestRetained: oldest, hasMore: to < events.count)
        }
    }
}
