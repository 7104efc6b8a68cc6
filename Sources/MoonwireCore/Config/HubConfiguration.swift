/// Settings of the core hub. The server's configuration file maps onto these; every default is documented
/// in docs/configuration.md.
public struct HubConfiguration: Sendable {
    /// Events kept per room.
    public var historySize = 100
    /// Events replayed to a connection that joins a room without asking to resume.
    public var replayOnJoin = 20
    /// Room every new connection joins (`nil`: none).
    public var autoJoinRoom: String? = RoomName.general
    /// Most rooms the hub holds.
    public var maxRooms = 100_000
    /// Most rooms one connection may follow.
    public var maxRoomsPerConnection = 100
    /// Most connections the hub holds at once, all transports together.
    public var maxConnections = 16_384
    /// A WebSocket connection silent this long is closed and announced as left.
    public var heartbeatTimeout: Duration = .seconds(60)
    /// An SSE stream with nothing to send gets a keep-alive comment this often.
    public var keepAliveInterval: Duration = .seconds(15)
    /// Bound of each connection's outbound queue, in bytes.
    public var outboundQueueBytes = 1 << 20
    /// Largest client frame accepted, in bytes.
    public var maxFrameBytes = 64 * 1024
    /// Largest event accepted from any source (its JSON form), in bytes. At most half the outbound queue,
    /// so one event can always be delivered.
    public var maxEventBytes = 256 * 1024
    /// Long-poll: timeout used when the client gives none.
    public var pollDefaultTimeout: Duration = .seconds(30)
    /// Long-poll: longest wait a client may ask for; longer requests are clamped to it.
    public var pollMaxTimeout: Duration = .seconds(60)
    /// Long-poll: most messages in one answer (`has_more` tells the client to poll again at once).
    public var pollBatchSize = 100
    /// Long-poll: a client that has not polled for this long counts as gone (and leaves its rooms).
    public var pollSessionTimeout: Duration = .seconds(45)
    /// Largest connection metadata accepted at connect (its compact JSON), in bytes. Every presence answer
    /// repeats it for each member.
    public var maxMetadataBytes = 2048
    /// Most users in one presence answer; the answer says `truncated` and where the next page starts.
    public var presencePageSize = 100
    /// Rooms with more users than this get their joins and leaves as one `presence_diff` per
    /// `presenceDiffInterval` instead of a `user_joined` / `user_left` each.
    public var announceMaxUsers = 100
    /// How often a large room's joins and leaves go out as a `presence_diff`.
    public var presenceDiffInterval: Duration = .seconds(1)
    /// Events of one room that may wait behind a fan-out whose delivery filter waits for I/O; past it the
    /// room's subscribers are disconnected to resume from history.
    public var deliveryBacklogLimit = 10_000

    public init() {}
}

extension Duration {
    /// The duration in nanoseconds, saturating.
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (product, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return product &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// The duration in seconds, as a double.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
