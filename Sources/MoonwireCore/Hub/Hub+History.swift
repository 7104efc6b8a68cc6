extension Hub {
    /// Most events one client history read returns.
    public static let clientHistoryLimit = 200

    /// A page of `room`'s stored history as `identity` may see it: the newest `limit` events older than
    /// `before` (the newest overall without it), oldest first, through the plugins' delivery filters.
    /// The caller must be present in the room (on any node).
    public func history(
        for identity: Identity, room: String, before: EventID?, limit: Int, remoteAddress: String?
    ) async throws(HubError) -> ClientHistoryPage {
        guard await isPresentOnAnyNode(identity.userID, in: room) else {
            throw HubError(.notInRoom, "join room '\(room)' (open a stream or poll it) to read its history")
        }
        let count = max(0, min(limit, Self.clientHistoryLimit))
        var page: HistoryPage
        do {
            page = try await broker.history(room: room, .before(before ?? EventID(Int64.max), limit: count))
        } catch {
            throw HubError(.unavailable, "history of '\(room)' is unavailable: \(error)")
        }
        let oldestRead = page.events.first?.id
        let reader = Connection(transport: .http, identity: identity, remoteAddress: remoteAddress, queueLimit: 0, clock: clock)
        page.events = await visible(page.events, to: reader, hooks: hooks)
        return ClientHistoryPage(events: page.events, hasMore: page.hasMore, nextBefore: page.hasMore ? oldestRead : nil)
    }
}
