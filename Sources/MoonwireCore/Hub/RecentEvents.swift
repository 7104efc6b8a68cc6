import Synchronization

/// The last events published on this node (their type, room, sender and time, not their data), for live
/// event logs such as the dashboard's.
public final class RecentEvents: Sendable {
    /// One published event, as the log shows it.
    public struct Entry: Sendable, Equatable {
        /// Counts every event recorded, so a reader can ask for what came after the last one it saw.
        public var sequence: Int
        public var type: String
        public var roomID: String
        public var userID: String
        public var timestamp: Double
    }

    private struct Ring {
        var entries: [Entry] = []
        var next = 0
        var recorded = 0
    }

    private let capacity: Int
    private let ring = Mutex(Ring())

    public init(capacity: Int = 50) {
        self.capacity = max(1, capacity)
    }

    /// Records a published event (room-less ones are left out).
    public func record(_ event: Event) {
        guard let room = event.roomID else { return }
        ring.withLock { ring in
            ring.recorded += 1
            let entry = Entry(sequence: ring.recorded, type: event.type.rawValue, roomID: room, userID: event.userID, timestamp: event.timestamp.seconds)
            if ring.entries.count < capacity {
                ring.entries.append(entry)
            } else {
                ring.entries[ring.next] = entry
            }
            ring.next = (ring.next + 1) % capacity
        }
    }

    /// The retained entries with a sequence above `sequence`, oldest first.
    public func entries(after sequence: Int = 0) -> [Entry] {
        let all = ring.withLock { ring -> [Entry] in
            ring.entries.count < capacity ? ring.entries : Array(ring.entries[ring.next...] + ring.entries[..<ring.next])
        }
        return all.filter { $0.sequence > sequence }
    }
}
