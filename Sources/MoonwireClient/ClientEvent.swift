public import MoonwireCore

/// What a `MoonwireClient` hands to the application, in order, on its `events` stream.
public enum ClientEvent: Sendable, Hashable {
    /// An event from the hub: room events (stored ones deduplicated by the room's position and in id order;
    /// ephemeral ones such as `typing`, `user_joined`, `user_left` as they come), events a plugin sends to
    /// the user (`room_id` nil), and `error` events the hub sends without being asked (a room refused
    /// when connecting, say). The client's own published events are not included, unless
    /// `Options.echo` is on. Transport chatter (the welcome, pongs, answers to requests) is not either.
    case event(Event)
    /// The hub could not replay everything after the client's position in a room: some events are lost
    /// to this client. Comes before that room's replay.
    case gap(Gap)
    /// The connection changed state.
    case status(ClientStatus)

    /// The hub event, if this is one.
    public var event: Event? {
        if case .event(let event) = self { return event }
        return nil
    }

    /// The gap, if this is one.
    public var gap: Gap? {
        if case .gap(let gap) = self { return gap }
        return nil
    }

    /// The status, if this is one.
    public var status: ClientStatus? {
        if case .status(let status) = self { return status }
        return nil
    }
}
