extension Hub {
    /// What `recipient` may see of `event`, through the plugins' delivery filters: the event, a redacted
    /// copy (same id), or `nil` when it is withheld. Live fan-out, history replays and long-poll answers
    /// all go through the filters, so a filter cannot be bypassed by resuming.
    public func visible(_ event: Event, to recipient: Connection, hooks: any HubHooks) async -> Event? {
        guard hooks.filtersDelivery else { return event }
        return visible(event, after: await hooks.filterDelivery(event, to: ConnectionInfo(recipient)).decision)
    }

    /// The events of `events` that `recipient` may see, as it may see them, in order.
    func visible(_ events: [Event], to recipient: Connection, hooks: any HubHooks) async -> [Event] {
        guard hooks.filtersDelivery else { return events }
        var seen: [Event] = []
        seen.reserveCapacity(events.count)
        for event in events {
            if let shown = await visible(event, to: recipient, hooks: hooks) { seen.append(shown) }
        }
        return seen
    }

    /// What a recipient sees of `event` once its filters decided.
    func visible(_ event: Event, after decision: DeliveryDecision) -> Event? {
        switch decision {
        case .deliver:
            return event
        case .replace(var replacement):
            replacement.id = event.id
            replacement.ephemeralID = event.ephemeralID
            replacement.roomID = event.roomID
            replacement.userID = event.userID
            replacement.type = event.type
            replacement.timestamp = event.timestamp
            return replacement
        case .drop:
            statistics.dropped("plugin_filter")
            return nil
        }
    }

    /// Delivers a published event to this node's subscribers of its room, and wakes long-polls waiting on
    /// the room. The broker calls it in id order per room, one call at a time per room.
    ///
    /// Filters that answer at once are applied on this thread. When some wait (for I/O), their recipients
    /// get the event once they answer, all at once; the room's later events wait behind it, so that each
    /// room's events still go out in order, and other rooms are not held up.
    func fanOut(_ event: Event) {
        guard let roomID = event.roomID else { return }
        let (room, waiters) = registry.withLock { registry -> (Room?, [ObjectIdentifier: PollWaiter]?) in
            let waiters = event.isStored && !registry.pollWaiters.isEmpty ? registry.pollWaiters.removeValue(forKey: roomID) : nil
            return (registry.rooms[roomID], waiters)
        }
        for waiter in (waiters ?? [:]).values { waiter.fire() }
        guard let room else { return }
        var backlogFull = false
        let subscribers = room.state.withLock { state -> ContiguousArray<Connection>? in
            guard state.deliveryBacklog != nil else { return state.subscribers }
            backlogFull = !state.deliveryBacklog!.append(event)
            return nil
        }
        if backlogFull { shedBacklog(of: room) }
        defer { recordLatency(of: event) }
        guard let subscribers, !subscribers.isEmpty else { return }
        let waiting = deliverNow(event, to: subscribers, room: roomID)
        guard !waiting.isEmpty else { return }
        let limit = configuration.deliveryBacklogLimit
        room.state.withLock { $0.deliveryBacklog = DeliveryBacklog(limit: limit) }
        Task { await self.finishDelivering(event, waiting: waiting, in: room) }
    }

    /// Records how long `event` took from its timestamp to here (its fan-out queued).
    private func recordLatency(of event: Event) {
        let now = Timestamp.now().seconds
        let nanoseconds = Int64(max(0, now - event.timestamp.seconds) * 1e9)
        statistics.publishLatency.record(nanoseconds: nanoseconds, at: Int64(now))
    }

    /// A recipient whose delivery filter waits, and how to wait for its decision.
    typealias WaitingDelivery = (connection: Connection, decision: @Sendable () async -> DeliveryDecision)

    /// Delivers `event` to each subscriber whose filters answer at once; returns the others.
    private func deliverNow(_ event: Event, to subscribers: ContiguousArray<Connection>, room roomID: String) -> [WaitingDelivery] {
        let encoded = EncodedEvent(event)
        let hooks = self.hooks
        let filters = hooks.filtersDelivery
        var waiting: [WaitingDelivery] = []
        var tally = DeliveryTally()
        for connection in subscribers where connection.id != event.origin {
            var item = encoded
            if filters {
                switch hooks.filterDelivery(event, to: ConnectionInfo(connection)) {
                case .now(let decision):
                    guard let seen = visible(event, after: decision) else { continue }
                    if seen != event { item = EncodedEvent(seen) }
                case .later(let decision):
                    waiting.append((connection, decision))
                    continue
                }
            }
            tally.add(connection.deliver(item, room: roomID))
        }
        record(tally, room: roomID)
        return waiting
    }

    /// Delivers `event` to the recipients whose filters wait, all at once, then the room's events that
    /// queued meanwhile, in order; ends when the room has none left waiting.
    private func finishDelivering(_ event: Event, waiting: [WaitingDelivery], in room: Room) async {
        var event = event
        var waiting = waiting
        while true {
            let current = event
            let encoded = EncodedEvent(current)
            await withTaskGroup(of: DeliveryTally.self) { group in
                for (connection, decision) in waiting {
                    group.addTask {
                        var tally = DeliveryTally()
                        guard let seen = self.visible(current, after: await decision()) else { return tally }
                        tally.add(connection.deliver(seen == current ? encoded : EncodedEvent(seen), room: room.id))
                        return tally
                    }
                }
                var total = DeliveryTally()
                for await tally in group { total.add(tally) }
                record(total, room: room.id)
            }
            let next = room.state.withLock { state -> (Event, ContiguousArray<Connection>)? in
                guard let event = state.deliveryBacklog?.next() else {
                    state.deliveryBacklog = nil
                    return nil
                }
                return (event, state.subscribers)
            }
            guard let (queued, subscribers) = next else { return }
            event = queued
            waiting = deliverNow(queued, to: subscribers, room: room.id)
        }
    }

    /// The room's delivery filters fell `HubConfiguration.deliveryBacklogLimit` events behind: its subscribers are
    /// disconnected (to resume from history, exactly once), and the events waiting for them dropped.
    private func shedBacklog(of room: Room) {
        let (dropped, subscribers) = room.state.withLock { state in
            (state.deliveryBacklog?.removeAll() ?? 0, state.subscribers)
        }
        statistics.dropped("delivery_backlog", count: dropped + 1)
        logger.warning(
            "a room's delivery filters fell behind; its subscribers are disconnected to resume from history",
            metadata: ["room": "\(room.id)", "events": "\(dropped + 1)", "connections": "\(subscribers.count)"])
        for connection in subscribers { connection.close(.filterBacklog) }
    }

    /// Counts deliveries of one room's event.
    private func record(_ tally: DeliveryTally, room roomID: String) {
        statistics.delivered(tally.delivered)
        if tally.overflowed > 0 {
            statistics.dropped("slow_consumer", count: tally.overflowed)
            logger.info("slow consumer disconnected", metadata: ["room": "\(roomID)", "connections": "\(tally.overflowed)"])
        }
    }
}
