public import MoonwireCore

/// A client of a Moonwire hub over one transport (WebSocket, SSE or long-poll), with the browser client's
/// semantics (clients/js/moonwire.js):
///
/// * **Positions.** The client keeps, per room, the id of the last stored event it delivered. Stored
///   events are delivered once each and in id order per room (a replayed or re-sent one is dropped).
/// * **Resume.** When the connection is lost it reconnects by itself, with exponential backoff and
///   jitter, and resumes every room from its position (WebSocket: the auth frame's `rooms` + `since`;
///   SSE: `last_event_id`; long-poll: `last_message_id`), so what was published meanwhile arrives once,
///   in order. Where the hub no longer has it, a `.gap` comes first.
/// * **Final refusals.** Close codes 4001 (auth), 4003 (refused), 4004 (kicked) and 1008 (origin) end
///   the client (`.status(.closed(error))`) instead of reconnecting.
/// * **Own events.** Events the client published are not delivered back to it (not even in a resume's
///   replay) unless `Options.echo` is on.
///
/// ```swift
/// let client = MoonwireClient(.init(url: "http://127.0.0.1:8080", userID: "alice", rooms: ["general"]))
/// try await client.connect()
/// let id = try await client.publish(room: "general", data: ["message": "hi"])
/// for await item in client.events {
///     switch item {
///     case .event(let event): print(event.type, event.data)
///     case .gap(let gap): print("missed events in \(gap.room): \(gap.message)")
///     case .status(let status): print(status)
///     }
/// }
/// ```
///
/// Call `close()` when done: until then the client keeps (re)connecting.
public actor MoonwireClient {
    /// The options the client was made with.
    public nonisolated let options: Options
    /// Everything the client receives, in order: hub events, gaps and status changes. Ends after
    /// `.status(.closed)`. Read it from one task.
    public nonisolated let events: AsyncStream<ClientEvent>
    private nonisolated let continuation: AsyncStream<ClientEvent>.Continuation
    /// The long-poll session id (`client_id`), stable for the client's life.
    public nonisolated let clientID: String

    enum Phase: Equatable {
        case idle
        case connecting
        case open
        case closed
    }

    struct RoomState {
        /// The last stored event delivered (or skipped as the client's own).
        var delivered: EventID?
        /// A position known to be covered: a starting point (`Options.since`, the hub's head when joined
        /// without a position) or a long-poll answer's cursor.
        var reached: EventID?

        var resume: EventID? {
            switch (delivered, reached) {
            case (let a?, let b?): max(a, b)
            case (let a?, nil): a
            case (nil, let b?): b
            case (nil, nil): nil
            }
        }
    }

    enum Held {
        case event(Event)
        case echo(Event)
    }

    var phase = Phase.idle
    var roomOrder: [String]
    var roomStates: [String: RoomState] = [:]
    var active: (any ClientTransport)?
    var generation = 0
    private var runner: Task<Void, Never>?
    private var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
    private var nextWaiter = 0
    private var finalError: MoonwireError?
    /// Publishes in progress: while there are some, received events wait in `held`, so that the client's
    /// own event (which a long-poll may bring before the publish answer) is recognised.
    var publishing = 0
    var held: [Held] = []
    /// Stored events this client published, as `room \u{1} id`, oldest first (bounded).
    var ownIDs: Set<String> = []
    var ownOrder: [String] = []

    /// The user id the hub confirmed (the welcome of WebSocket and SSE, a long-poll answer's `user_id`).
    public internal(set) var identity: String?
    /// The hub's id for the current connection (WebSocket and SSE; `nil` for long-poll).
    public internal(set) var connectionID: String?

    public init(_ options: Options) {
        self.options = options
        (events, continuation) = AsyncStream<ClientEvent>.makeStream(bufferingPolicy: .unbounded)
        clientID = "mw-" + RandomID.token(length: 16)
        var order: [String] = []
        for room in options.rooms where !order.contains(room) { order.append(room) }
        roomOrder = order
        for room in order { roomStates[room] = RoomState(reached: options.since[room]) }
    }

    /// Whether the connection is open now.
    public var isOpen: Bool { phase == .open }

    /// The rooms followed, in order.
    public var rooms: [String] { roomOrder }

    /// Where each room would resume from: persist these and pass them back as `Options.since`.
    public var positions: [String: EventID] {
        var result: [String: EventID] = [:]
        for room in roomOrder { if let position = roomStates[room]?.resume { result[room] = position } }
        return result
    }

    /// Connects and returns once the connection is open (rooms joined, or resumed from their positions).
    /// A hub that cannot be reached is retried with backoff until it can, until a final refusal (which
    /// this throws), or until `close()`. Cancelling the calling task stops the waiting, not the client.
    public func connect() async throws {
        if phase == .open { return }
        if phase == .closed { throw finalError ?? MoonwireError.closedByClient }
        for room in roomOrder {
            if let error = RoomName.validate(room) { throw MoonwireError(code: error.code.rawValue, message: error.message) }
        }
        if phase == .idle {
            phase = .connecting
            continuation.yield(.status(.connecting))
            runner = Task { await self.run() }
        }
        nextWaiter += 1
        let id = nextWaiter
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else if phase == .open {
                    continuation.resume()
                } else if phase == .closed {
                    continuation.resume(throwing: finalError ?? MoonwireError.closedByClient)
                } else {
                    waiters[id] = continuation
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    }

    private func wakeWaiters(_ error: MoonwireError?) {
        let all = waiters.values
        waiters = [:]
        for waiter in all {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }

    /// Closes the connection for good and ends `events` (after `.status(.closed(nil))`).
    public func close() async {
        guard phase != .closed else { return }
        phase = .closed
        runner?.cancel()
        runner = nil
        let transport = active
        active = nil
        generation += 1
        await transport?.close()
        wakeWaiters(MoonwireError.closedByClient)
        continuation.yield(.status(.closed(nil)))
        continuation.finish()
    }

    /// Connects, waits for the connection to end, and reconnects with backoff, until closed.
    private func run() async {
        var attempt = 0
        while phase != .closed {
            generation += 1
            let context = TransportContext(options: options, clientID: clientID, generation: generation, client: self)
            let transport = makeTransport(context)
            var failure: MoonwireError
            do {
                let opened = try await withDeadline(options.openTimeout, orFail: .timeout("the connection did not open in time")) {
                    try await transport.open()
                }
                guard phase != .closed, !Task.isCancelled else {
                    await transport.close()
                    return
                }
                active = transport
                phase = .open
                attempt = 0
                await catchUp(transport, opened: opened)
                continuation.yield(.status(.open(options.transport)))
                wakeWaiters(nil)
                failure = await transport.ended()
                if phase == .closed { return }
                active = nil
                phase = .connecting
                await transport.close()
            } catch {
                await transport.close()
                if phase == .closed || Task.isCancelled { return }
                failure = MoonwireError.from(error)
            }
            if failure.isFinal {
                fail(failure)
                return
            }
            attempt += 1
            let delay = Backoff.delay(attempt: attempt, min: options.reconnectMin, max: options.reconnectMax)
            continuation.yield(.status(.reconnecting(attempt: attempt, delay: delay, reason: failure)))
            do {
                try await Task.sleep(for: delay)
            } catch {
                return
            }
        }
    }

    /// Rooms joined or left while the connection was opening: tell the new connection.
    private func catchUp(_ transport: any ClientTransport, opened: [String]) async {
        for room in roomOrder where !opened.contains(room) {
            do {
                try await transport.join(room)
            } catch {
                refuseRoom(room, MoonwireError.from(error))
            }
        }
        for room in opened where !roomOrder.contains(room) {
            try? await transport.leave(room)
        }
    }

    /// The hub refused a room: stop following it and say so with an `error` event.
    func refuseRoom(_ room: String, _ error: MoonwireError) {
        guard !Self.isConnectionProblem(error) else { return }
        forget(room)
        let data: JSONValue = ["code": .string(error.code), "message": .string(error.message)]
        continuation.yield(.event(Event(type: .error, userID: Event.systemUser, roomID: room, data: data)))
    }

    /// Errors that say nothing about the request itself, only that the connection is gone.
    static func isConnectionProblem(_ error: MoonwireError) -> Bool {
        ["not_connected", "disconnected", "closed", "timeout", "unreachable", "cancelled"].contains(error.code)
    }

    private func fail(_ error: MoonwireError) {
        phase = .closed
        finalError = error
        runner = nil
        wakeWaiters(error)
        continuation.yield(.status(.closed(error)))
        continuation.finish()
    }

    private func makeTransport(_ context: TransportContext) -> any ClientTransport {
        switch options.transport {
        case .webSocket: WebSocketClientTransport(context)
        case .sse: EventStreamClientTransport(context)
        case .longPoll: LongPollClientTransport(context)
        }
    }

    // MARK: what transports report

    func resumePositions() -> [(room: String, position: EventID?)] {
        roomOrder.map { ($0, roomStates[$0]?.resume) }
    }

    func resumePosition(_ room: String) -> EventID? {
        roomStates[room]?.resume
    }

    func reached(_ room: String, _ id: EventID, generation: Int) {
        guard generation == self.generation, var state = roomStates[room] else { return }
        if state.reached.map({ id > $0 }) ?? true { state.reached = id }
        roomStates[room] = state
    }

    /// The hub said who the client is (a welcome; a long-poll answer's `user_id`).
    func welcomed(userID: String?, connectionID: String?, generation: Int) {
        guard generation == self.generation else { return }
        if let userID { identity = userID }
        if let connectionID { self.connectionID = connectionID }
    }

    /// One event from the current transport: held while a publish is in progress, else processed.
    func receive(_ event: Event, generation: Int) {
        guard generation == self.generation, phase != .closed else { return }
        if publishing > 0 {
            held.append(.event(event))
        } else {
            process(event)
        }
    }

    /// Drops what was seen already (or is the client's own), moves the room's position, delivers.
    func process(_ event: Event) {
        if event.type == .gap {
            continuation.yield(.gap(Gap(event)))
            return
        }
        if let room = event.roomID {
            guard var state = roomStates[room] else {
                // A room the client does not follow (left a moment ago): nothing to deliver, except errors.
                if event.type == .error { continuation.yield(.event(event)) }
                return
            }
            if let id = event.id {
                if let delivered = state.delivered, id <= delivered { return }
                state.delivered = id
                roomStates[room] = state
                if ownIDs.remove(Self.ownKey(room, id)) != nil { return }
            }
        }
        continuation.yield(.event(event))
    }

    static func ownKey(_ room: String, _ id: EventID) -> String { room + "\u{1}" + id.description }

    func emit(_ item: ClientEvent) {
        continuation.yield(item)
    }
}
