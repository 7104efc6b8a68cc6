/// A room's events that wait for their fan-out while a delivery filter of an earlier event waits for
/// I/O (a room's events go out in order). Bounded: past `limit` events the room's subscribers are
/// disconnected to resume from history, and the events waiting here are dropped.
struct DeliveryBacklog {
    /// The most events that wait.
    let limit: Int
    private var events: [Event] = []
    private var head = 0

    init(limit: Int) {
        self.limit = limit
    }

    var count: Int { events.count - head }

    /// Adds an event; false when the backlog is full (nothing is added).
    mutating func append(_ event: Event) -> Bool {
        guard count < limit else { return false }
        events.append(event)
        return true
    }

    /// The oldest event, removed.
    mutating func next() -> Event? {
        guard head < events.count else { return nil }
        let event = events[head]
        head += 1
        if head == events.count {
            events.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= events.count {
            events.removeFirst(head)
            head = 0
        }
        return event
    }

    /// Drops every waiting event; returns how many there were.
    mutating func removeAll() -> Int {
        let dropped = count
        events.removeAll()
        head = 0
        return dropped
    }
}
