/// The state of a `MoonwireClient`'s connection, reported on its `events` stream as it changes.
public enum ClientStatus: Sendable, Hashable {
    /// The first connection attempt started.
    case connecting
    /// The connection is open over this transport: rooms are joined (and resumed), requests can be sent.
    case open(MoonwireClient.Transport)
    /// The connection failed or was lost; the next attempt starts after `delay`. `reason` is what went wrong.
    case reconnecting(attempt: Int, delay: Duration, reason: MoonwireError?)
    /// Closed for good: by `close()` (`nil`), or because the hub refused the client in a way that
    /// reconnecting would not fix (close codes 4001, 4003, 4004, 1008; see `MoonwireError.isFinal`).
    /// The `events` stream ends after this.
    case closed(MoonwireError?)
}
