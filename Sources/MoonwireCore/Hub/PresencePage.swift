/// Which part of a room's presence to answer with: the users after `after` (by id), at most `limit`.
public struct PresencePage: Sendable, Equatable {
    /// The last user id of the previous page (its `next`); `nil` for the first page.
    public var after: String?
    /// Most users wanted; capped by the hub's page size.
    public var limit: Int?

    public init(after: String? = nil, limit: Int? = nil) {
        self.after = after
        self.limit = limit
    }
}
