public import MoonwireCore

extension MoonwireClient {
    /// How the client talks to the hub.
    public enum Transport: String, Sendable, Hashable, CaseIterable {
        /// `GET /ws`: both directions on one WebSocket; publishing is acknowledged on it.
        case webSocket = "websocket"
        /// `GET /events` (Server-Sent Events) to receive; `POST /publish` and `GET /presence` to send and ask.
        case sse
        /// `GET /poll` (long-polling with a cursor) to receive; `POST /publish` and `GET /presence` to send and ask.
        case longPoll = "longpoll"
    }

    /// How a `MoonwireClient` connects.
    public struct Options: Sendable {
        /// The hub's base URL (`http://127.0.0.1:8080`); the WebSocket URL is derived from it (`ws://…/ws`).
        public var url: String
        /// The user id to claim. A hub without an auth plugin takes it as is. Without one (and without a
        /// token, from which an auth plugin would establish the identity) the client makes up a guest id,
        /// `guest-` and 8 hex digits.
        public var userID: String?
        /// A token for the hub's auth plugin (auth frame `token`; `Authorization: Bearer` over HTTP).
        public var token: String?
        /// Metadata for presence (sent in the WebSocket auth frame; SSE and long-poll carry none).
        public var metadata: JSONObject
        /// Rooms to follow from the start.
        public var rooms: [String]
        /// The transport; the client uses this one only.
        public var transport: Transport
        /// How many recent events of a room to deliver when the client joins it without a position
        /// (afterwards it always resumes from its position). Over WebSocket at most the hub's
        /// `rooms.replay_on_join` (default 20).
        public var replay: Int
        /// Positions to start from, by room (as persisted from `MoonwireClient.positions`): those rooms
        /// resume after these ids instead of replaying recent events.
        public var since: [String: EventID]
        /// The first reconnect delay; each failed attempt doubles it, up to `reconnectMax`. The actual delay
        /// is a random point in the upper half (jitter).
        public var reconnectMin: Duration
        /// The longest reconnect delay.
        public var reconnectMax: Duration
        /// How often a WebSocket sends the hub's application heartbeat. The hub closes silent connections
        /// after its `heartbeat.timeout` (default 60 s, told in the welcome); the client beats at least
        /// three times within it, whatever this says.
        public var heartbeat: Duration
        /// How long one long-poll waits for events.
        public var pollTimeout: Duration
        /// How long opening a connection may take before the attempt counts as failed.
        public var openTimeout: Duration
        /// How long a request (publish, join, leave, presence) waits for the hub's answer.
        public var requestTimeout: Duration
        /// Whether the client's own stored events are delivered on `events` too (once, right after
        /// `publish` returns). Off by default: the id `publish` returns is the confirmation.
        public var echo: Bool

        public init(
            url: String = "http://127.0.0.1:8080",
            userID: String? = nil,
            token: String? = nil,
            metadata: JSONObject = [:],
            rooms: [String] = ["general"],
            transport: Transport = .webSocket,
            replay: Int = 20,
            since: [String: EventID] = [:],
            reconnectMin: Duration = .milliseconds(500),
            reconnectMax: Duration = .seconds(15),
            heartbeat: Duration = .seconds(25),
            pollTimeout: Duration = .seconds(25),
            openTimeout: Duration = .seconds(10),
            requestTimeout: Duration = .seconds(10),
            echo: Bool = false
        ) {
            self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
            self.userID = userID ?? (token == nil ? "guest-" + RandomID.token(length: 8) : nil)
            self.token = token
            self.metadata = metadata
            self.rooms = rooms
            self.transport = transport
            self.replay = max(0, replay)
            self.since = since
            self.reconnectMin = reconnectMin
            self.reconnectMax = reconnectMax
            self.heartbeat = heartbeat
            self.pollTimeout = pollTimeout
            self.openTimeout = openTimeout
            self.requestTimeout = requestTimeout
            self.echo = echo
        }
    }
}
