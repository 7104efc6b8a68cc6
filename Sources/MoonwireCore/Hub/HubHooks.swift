/// The points where plugins decide what the hub does. The Lua plugin host implements this;
/// `NoHooks` keeps the seed's behaviour.
///
/// Every hook may wait for I/O without blocking a thread. The delivery filter, once per recipient,
/// answers at once when it can (`DeliveryVerdict.now`) and says how to wait for its answer when not.
public protocol HubHooks: Sendable {
    /// Authenticates a new connection (every transport). `.noOpinion` falls back to the seed's rule:
    /// the client names its own user id.
    func authenticate(_ request: ConnectRequest) async -> AuthDecision

    /// Decides whether `connection` may join `room`; `exists` tells whether the room exists yet.
    func authorizeJoin(_ connection: ConnectionInfo, room: String, exists: Bool) async -> JoinDecision

    /// Passes, modifies, drops or rejects an event before it is stored and delivered.
    func filterPublish(_ event: Event, from publisher: PublisherInfo) async -> PublishDecision

    /// Whether `filterDelivery` should be called at all (it costs one call per recipient).
    var filtersDelivery: Bool { get }

    /// Per-recipient filter at fan-out time: deliver as is, deliver a redacted copy, or drop; now, or
    /// once what the filter waits for is there.
    func filterDelivery(_ event: Event, to recipient: ConnectionInfo) -> DeliveryVerdict

    /// An event was stored (it has its id) and handed to the broker for delivery. What the hook
    /// publishes meanwhile is stored, and delivered, after it.
    func didStore(_ event: Event) async

    /// A user's last connection left `room`.
    func didLeave(_ connection: ConnectionInfo, room: String, reason: DisconnectReason?) async

    /// A connection ended, for whatever reason.
    func didDisconnect(_ connection: ConnectionInfo, reason: DisconnectReason) async

    /// The rules for a type that is not built in, or `nil` if no plugin registered it.
    func eventType(_ type: EventType) -> CustomEventType?
}

/// What a hook sees of a connection.
public struct ConnectionInfo: Sendable {
    public var id: String
    public var transport: TransportKind
    public var identity: Identity
    public var remoteAddress: String?
    public var rooms: [String]

    public init(id: String, transport: TransportKind, identity: Identity, remoteAddress: String?, rooms: [String]) {
        self.id = id
        self.transport = transport
        self.identity = identity
        self.remoteAddress = remoteAddress
        self.rooms = rooms
    }

    public init(_ connection: Connection) {
        self.init(
            id: connection.id, transport: connection.transport, identity: connection.identity,
            remoteAddress: connection.remoteAddress, rooms: connection.rooms)
    }
}

/// Everything known about a client when it connects.
public struct ConnectRequest: Sendable {
    public var transport: TransportKind
    public var remoteAddress: String?
    /// Request headers, names lowercased.
    public var headers: [String: String]
    public var query: [String: String]
    /// The user id the client claims (the WebSocket auth frame's `user_id`, or `user_id` / `client_id` in the query).
    public var claimedUserID: String?
    /// The auth frame's `metadata`.
    public var metadata: JSONObject
    /// The auth frame's `token`, the `token` query parameter, or a bearer token.
    public var token: String?

    public init(
        transport: TransportKind, remoteAddress: String? = nil, headers: [String: String] = [:], query: [String: String] = [:],
        claimedUserID: String? = nil, metadata: JSONObject = [:], token: String? = nil
    ) {
        self.transport = transport
        self.remoteAddress = remoteAddress
        self.headers = headers
        self.query = query
        self.claimedUserID = claimedUserID
        self.metadata = metadata
        self.token = token
    }
}

/// Who is publishing: a connection, or a server-side caller.
public struct PublisherInfo: Sendable {
    public var connection: ConnectionInfo?
    public var transport: TransportKind
    public var userID: String
    /// The plugin that publishes (`hub.publish`); its own `on_publish` is skipped for the event.
    public var plugin: String?
    /// A server-side caller that presented the API key, or a plugin.
    public var trusted: Bool
    /// Who an HTTP client authenticated as (roles, metadata), when it published without a connection.
    public var identity: Identity?

    public init(connection: ConnectionInfo?, transport: TransportKind, userID: String, plugin: String? = nil, trusted: Bool = false) {
        self.connection = connection
        self.transport = transport
        self.userID = userID
        self.plugin = plugin
        self.trusted = trusted || plugin != nil
    }
}

public enum AuthDecision: Sendable {
    case noOpinion
    case allow(Identity)
    case deny(code: String, reason: String)
}

public enum JoinDecision: Sendable {
    case noOpinion
    case allow
    case deny(reason: String)
}

public enum PublishDecision: Sendable {
    case pass(Event)
    /// Not stored or delivered, and the sender is not told.
    case drop
    /// Not stored or delivered; the sender gets an error with the reason (and code: `rejected` unless
    /// the plugin names one of the hub's codes, such as `rate_limited`).
    case reject(reason: String, code: String? = nil)
}

public enum DeliveryDecision: Sendable {
    case deliver
    case replace(Event)
    case drop
}

/// A delivery filter's decision, or how to wait for it (the filter asked for I/O).
public enum DeliveryVerdict: Sendable {
    case now(DeliveryDecision)
    case later(@Sendable () async -> DeliveryDecision)

    /// The decision, waiting for it if need be.
    public var decision: DeliveryDecision {
        get async {
            switch self {
            case .now(let decision): return decision
            case .later(let wait): return await wait()
            }
        }
    }
}

/// A plugin-defined event type.
public struct CustomEventType: Sendable {
    public var name: EventType
    /// Stored in history (and resumable) or ephemeral.
    public var stored: Bool
    /// Whether clients may send it (else only server-side callers: plugins and the server API).
    public var clientsMaySend: Bool
    /// Checks the event's `data`; returns an error message, or `nil` when valid.
    public var validate: @Sendable (JSONValue) async -> String?

    public init(
        name: EventType, stored: Bool, clientsMaySend: Bool = true, validate: @escaping @Sendable (JSONValue) async -> String? = { _ in nil }
    ) {
        self.name = name
        self.stored = stored
        self.clientsMaySend = clientsMaySend
        self.validate = validate
    }
}

/// No plugins: the seed's rules.
public struct NoHooks: HubHooks {
    public init() {}
    public func authenticate(_ request: ConnectRequest) async -> AuthDecision { .noOpinion }
    public func authorizeJoin(_ connection: ConnectionInfo, room: String, exists: Bool) async -> JoinDecision { .noOpinion }
    public func filterPublish(_ event: Event, from publisher: PublisherInfo) async -> PublishDecision { .pass(event) }
    public var filtersDelivery: Bool { false }
    public func filterDelivery(_ event: Event, to recipient: ConnectionInfo) -> DeliveryVerdict { .now(.deliver) }
    public func didLeave(_ connection: ConnectionInfo, room: String, reason: DisconnectReason?) async {}
    public func didDisconnect(_ connection: ConnectionInfo, reason: DisconnectReason) async {}
    public func didStore(_ event: Event) async {}
    public func eventType(_ type: EventType) -> CustomEventType? { nil }
}
