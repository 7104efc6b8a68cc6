/// A page of history as one client may see it.
public struct ClientHistoryPage: Sendable {
    /// The events, oldest first, after the client's delivery filters.
    public var events: [Event]
    /// Older events are retained.
    public var hasMore: Bool
    /// Where the next older page starts (the oldest event read, even when the filters withheld it).
    public var nextBefore: EventID?
}
