/// How rooms come and go: a room is created by a publish or an allowed join (never by a read), and is
/// removed once nobody is in it, nothing holds it and its broker retains no event of it, so that the
/// room table does not fill up with rooms nobody uses.
extension Hub {
    /// Returns the room, created when `create` allows and the room limit is not reached, and holds it:
    /// it is not removed until `release(_:)`.
    func holdRoom(_ id: String, create: Bool) throws(HubError) -> Room {
        if let error = RoomName.validate(id) { throw error }
        let result = registry.withLock { registry -> Result<(Room, Bool), HubError> in
            if let room = registry.rooms[id] {
                room.state.withLock { state in
                    state.holds += 1
                    state.epoch &+= 1
                }
                return .success((room, false))
            }
            guard create else { return .failure(HubError(.roomNotFound, "room '\(id)' does not exist")) }
            guard registry.rooms.count < configuration.maxRooms else {
                return .failure(
                    HubError(.roomLimit, "the hub holds its maximum of \(configuration.maxRooms) rooms (rooms.max_rooms)"))
            }
            let room = Room(id: id)
            room.state.withLock { $0.holds = 1 }
            registry.rooms[id] = room
            return .success((room, true))
        }
        switch result {
        case .success(let (room, created)):
            if created {
                statistics.roomsCreated.add(1, ordering: .relaxed)
                statistics.roomCount(registry.withLock { $0.rooms.count })
                logger.debug("room created", metadata: ["room": "\(id)"])
            }
            return room
        case .failure(let error):
            throw error
        }
    }

    /// Ends a hold taken by `holdRoom`; removes the room if that leaves it unused.
    func release(_ room: Room) {
        room.state.withLock { $0.holds -= 1 }
        collect(room)
    }

    /// Removes `room` if nobody is in it, nothing holds it, the broker retains no event of it and it is
    /// not permanent; then the broker forgets it too. Returns whether it was removed.
    @discardableResult
    func collect(_ room: Room) -> Bool {
        guard !permanentRooms.contains(room.id) else { return false }
        guard let epoch = room.state.withLock({ $0.isIdle && !$0.removed ? $0.epoch : nil }) else { return false }
        // Asked without the hub's locks: the broker calls into the hub while it holds its own.
        guard !broker.retainsHistory(room: room.id) else { return false }
        let removed = registry.withLock { registry -> Bool in
            guard registry.rooms[room.id] === room else { return false }
            let unchanged = room.state.withLock { state -> Bool in
                // A hold taken since (a publish, a join) may have stored an event or added someone.
                guard state.isIdle, state.epoch == epoch else { return false }
                state.removed = true
                state.pendingDiff = nil
                return true
            }
            if unchanged { registry.rooms.removeValue(forKey: room.id) }
            return unchanged
        }
        guard removed else { return false }
        broker.forget(room: room.id)
        statistics.roomsRemoved.add(1, ordering: .relaxed)
        statistics.roomCount(registry.withLock { $0.rooms.count })
        logger.debug("room removed", metadata: ["room": "\(room.id)"])
        return true
    }

    /// Removes every room that is no longer used (rooms whose history expired or was evicted since their
    /// last user left). Run by the housekeeping sweep. Returns how many went.
    @discardableResult
    public func collectUnusedRooms() -> Int {
        let candidates = registry.withLock { registry in registry.rooms.values.filter { !permanentRooms.contains($0.id) } }
        var removed = 0
        for room in candidates where collect(room) { removed += 1 }
        return removed
    }

    /// The first `limit` room ids in order, and how many rooms there are: O(rooms), without sorting them all.
    func firstRoomIDs(_ limit: Int) -> (ids: [String], total: Int) {
        let all = registry.withLock { Array($0.rooms.keys) }
        guard all.count > limit else { return (all.sorted(), all.count) }
        // The `limit` smallest, kept sorted; most ids are rejected with one comparison.
        var smallest: [String] = []
        smallest.reserveCapacity(limit + 1)
        for id in all {
            if smallest.count == limit, let largest = smallest.last, id >= largest { continue }
            let position = smallest.partitioningIndex { $0 > id }
            smallest.insert(id, at: position)
            if smallest.count > limit { smallest.removeLast() }
        }
        return (smallest, all.count)
    }
}
