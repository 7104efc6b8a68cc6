public import MoonwireCore

/// The hub could not replay everything a room had after the client's position (docs/protocol.md §10).
///
/// Two kinds: events after `lastEventID` are no longer retained (or the position is unknown to the hub,
/// e.g. after the hub restarted), so the replay starts at `oldestRetainedID`; or the replay was cut to fit
/// the outbound queue and `skipped` older events were left out (read them from the server API's history).
public struct Gap: Sendable, Hashable {
    /// The room.
    public var room: String
    /// The position the client resumed from ("no longer retained" and "unknown position" gaps).
    public var lastEventID: String?
    /// The oldest event the hub still retains, if any.
    public var oldestRetainedID: String?
    /// How many older events a cut replay left out.
    public var skipped: Int?
    /// The first event replayed after a cut.
    public var firstReplayedID: String?
    /// The hub's explanation.
    public var message: String
    /// The hub's `gap` event as received.
    public var event: Event

    public init(_ event: Event) {
        self.event = event
        let data = event.data
        room = data["room_id"]?.stringValue ?? event.roomID ?? ""
        lastEventID = data["last_event_id"]?.stringValue
        oldestRetainedID = data["oldest_retained_id"]?.stringValue
        skipped = data["skipped"]?.intValue.map { Int($0) }
        firstReplayedID = data["first_replayed_id"]?.stringValue
        message = data["message"]?.stringValue ?? "events are missing"
    }
}
