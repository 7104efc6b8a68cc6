import Synchronization

/// Long-poll messages as JSON bytes, by room and event id: the event that every waiting poll of a room
/// reads is encoded once, not once per poll. Only events as stored are kept (never a copy a delivery
/// filter changed); the cache is emptied when it holds `capacity` events.
final class PollMessageCache: Sendable {
    private struct Key: Hashable {
        let room: String
        let id: EventID
    }

    private let entries = Mutex<[Key: [UInt8]]>([:])
    private let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// `event.pollMessage` as JSON, from the cache when it is there.
    func bytes(for event: Event) -> [UInt8] {
        guard let id = event.id, let room = event.roomID else { return JSONWriter.bytes(.object(event.pollMessage)) }
        let key = Key(room: room, id: id)
        if let cached = entries.withLock({ $0[key] }) { return cached }
        let bytes = JSONWriter.bytes(.object(event.pollMessage))
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = bytes
        }
        return bytes
    }
}
