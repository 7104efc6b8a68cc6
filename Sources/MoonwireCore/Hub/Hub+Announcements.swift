/// Presence announcements. In a room of at most `announceMaxUsers` users each join and leave is announced
/// at once (`user_joined`, `user_left`, as the seed does). In a larger room they are collected and sent as
/// one `presence_diff` per `presenceDiffInterval`, so a join storm costs one event per room per interval
/// instead of one per member per join.
extension Hub {
    /// Announces that `connection`'s user joined or left `room` (not echoed to that connection when sent
    /// at once).
    func announce(_ type: EventType, user connection: Connection, room roomID: String) async {
        guard let room = self.room(roomID) else { return }
        let joined = type == .userJoined
        let batch = room.state.withLock { state -> (batched: Bool, startTimer: Bool) in
            if state.pendingDiff != nil {
                state.pendingDiff!.record(connection.userID, joined: joined)
                return (true, false)
            }
            // The room's size with the user in it: after a join, before a leave.
            let users = state.members.count + (joined ? 0 : 1)
            guard users > configuration.announceMaxUsers else { return (false, false) }
            var diff = PresenceDiff()
            diff.record(connection.userID, joined: joined)
            state.pendingDiff = diff
            return (true, true)
        }
        if batch.startTimer {
            let interval = configuration.presenceDiffInterval
            Task { [self] in
                try? await clock.sleep(for: interval)
                await flushPresenceDiff(roomID)
            }
        }
        guard !batch.batched else { return }
        var event = Event(
            type: type, userID: connection.userID, roomID: roomID,
            data: ["user_id": .string(connection.userID), "room_id": .string(roomID), "room_name": .string(roomID)])
        event.origin = connection.id
        await publishAnnouncement(event)
    }

    /// Sends the joins and leaves collected for `room` as one `presence_diff` (nothing when they cancel out).
    func flushPresenceDiff(_ roomID: String) async {
        guard let room = self.room(roomID) else { return }
        let pending = room.state.withLock { state -> (PresenceDiff, Int)? in
            defer { state.pendingDiff = nil }
            return state.pendingDiff.map { ($0, state.members.count) }
        }
        guard let (diff, users) = pending, !diff.isEmpty else { return }
        let data = diff.data(room: roomID, users: users, listed: configuration.announceMaxUsers)
        await publishAnnouncement(Event(type: .presenceDiff, userID: Event.systemUser, roomID: roomID, data: .object(data)))
    }

    private func publishAnnouncement(_ event: Event) async {
        do {
            _ = try await broker.publish(event, store: false)
        } catch {
            logger.warning("presence announcement failed", metadata: ["room": "\(event.roomID ?? "")", "error": "\(error)"])
        }
    }
}
