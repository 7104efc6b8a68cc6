import MoonwireCore
import NIOCore
import NIOHTTP1

/// Serves `GET /poll` and `GET /events` in the connection's own pipeline, without Hummingbird's
/// per-request machinery (an async channel, a `Request`, the router, the middlewares, a `Response`);
/// everything else goes on, as decoded, to Hummingbird's handlers after it.
///
/// One request is served at a time, so its answers and Hummingbird's never interleave on a keep-alive
/// connection: a request that arrives while another is being answered waits here (and the connection
/// stops reading until it is let through). Reading goes on while a poll is parked, so that costs no
/// system call. A first request that asks for an upgrade (WebSocket) is handed on and the router leaves
/// the pipeline: what follows is not HTTP. The hub's work for a request runs in a task on this
/// connection's event loop (`EventLoopTaskExecutor`).
final class TransportRouter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What the router serves itself, and the rules its answers follow.
    struct Endpoints: Sendable {
        var longPoll: LongPollEndpoint?
        var events: SSEEndpoint?
        var cors: CORSPolicy
    }

    enum Route: Sendable {
        case poll(LongPollEndpoint)
        case events(SSEEndpoint)
    }

    enum Current {
        /// Between requests.
        case idle
        /// Hummingbird serves the request being read: its parts go on. `answered`: its response has ended.
        case forwarding(answered: Bool)
        /// Hummingbird has the whole request; its response has not ended yet.
        case forwarded
        /// A native request whose head was read; served once its end is.
        case reading(HTTPRequestHead, Route)
        /// The hub is working on a native request.
        case answering
        /// An SSE stream is open on `connection`.
        case streaming(Connection)
    }

    let endpoints: Endpoints
    var current = Current.idle
    /// Parts of requests that arrived while another was being answered, in order.
    var waiting = CircularBuffer<HTTPServerRequestPart>(initialCapacity: 0)
    /// A read was held back while requests wait.
    var readHeld = false
    /// The client half-closed while requests wait: told once they have gone on.
    var inputClosedWaiting = false
    /// The server is shutting down: close once the native answer in progress has ended.
    var closeAfterAnswer = false
    /// The connection ends with the answer just written: what the client still sends is dropped.
    var closing = false
    /// Requests that waited are being let in (a request answered at once meanwhile does not start another round).
    var draining = false
    /// A request went on to Hummingbird, so its upgrade handler has made up its mind (and left).
    var forwardedAny = false
    var context: ChannelHandlerContext?
    /// The hub's work on the native request being answered; cancelled when the client goes away.
    var work: Task<Void, Never>?
    /// Runs that work on this connection's event loop.
    var executor: (any TaskExecutor)?

    init(endpoints: Endpoints) {
        self.endpoints = endpoints
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        waiting.removeAll()
        clientWentAway()
        // Hummingbird's upgrade handler reports an error when a connection ends without its input closing.
        if inputClosedWaiting {
            inputClosedWaiting = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let event as ChannelEvent where event == .inputClosed:
            // The client sends no more (or is gone: a close looks the same until a write fails). A stream
            // ends; a parked poll answers now with what it has. The handlers after this one would close the
            // connection on this event, so it is told once the native answers owed have gone out.
            switch current {
            case .streaming: clientWentAway()
            case .answering: work?.cancel()
            default: break
            }
            if !waiting.isEmpty || servingNatively {
                inputClosedWaiting = true
                return
            }
        case is ChannelShouldQuiesceEvent:
            // (The guard closes a connection with no request open at once.) Hummingbird closes after the
            // answer it owes; a native answer is ours to end.
            switch current {
            case .reading, .answering, .streaming:
                closeAfterAnswer = true
                return
            case .idle:
                context.close(promise: nil)
                return
            case .forwarding, .forwarded:
                break
            }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func clientWentAway() {
        if case .streaming(let connection) = current {
            connection.close(.clientClosed)
        } else {
            work?.cancel()
            work = nil
        }
    }

    // MARK: Requests, one at a time

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if closing { return }
        let part = Self.unwrapInboundIn(data)
        if !waiting.isEmpty {
            waiting.append(part)
            return
        }
        if case .head = part, !isIdle {
            waiting.append(part)
            return
        }
        process(part, context: context)
    }

    func read(context: ChannelHandlerContext) {
        if waiting.isEmpty {
            context.read()
        } else {
            readHeld = true
        }
    }

    var isIdle: Bool {
        if case .idle = current { return true }
        return false
    }

    /// A native request is being read, answered or streamed.
    var servingNatively: Bool {
        switch current {
        case .reading, .answering, .streaming: true
        case .idle, .forwarding, .forwarded: false
        }
    }

    func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            let upgrade = head.headers.contains(name: "upgrade")
            if !upgrade, let route = route(for: head) {
                current = .reading(head, route)
                return
            }
            let first = !forwardedAny
            forwardedAny = true
            current = .forwarding(answered: false)
            context.fireChannelRead(wrapInboundOut(part))
            // Hummingbird's upgrade handler looks at the first request it gets only.
            if upgrade, first { stepAside(context) }
        case .body:
            // A body on a native GET is read and dropped.
            if case .forwarding = current { context.fireChannelRead(wrapInboundOut(part)) }
        case .end:
            switch current {
            case .reading(let head, let route):
                current = .answering
                answer(head, route, context: context)
            case .forwarding(let answered):
                current = answered ? .idle : .forwarded
                context.fireChannelRead(wrapInboundOut(part))
                if answered { letWaitingIn(context) }
            case .idle, .forwarded, .answering, .streaming:
                context.fireChannelRead(wrapInboundOut(part))
            }
        }
    }

    /// Hummingbird's answers pass here on their way out: the end of one lets the next request in.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = Self.unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        context.write(data, promise: promise)
        switch current {
        case .forwarding(answered: false):
            current = .forwarding(answered: true)
        case .forwarded:
            current = .idle
            letWaitingIn(context)
        default:
            break
        }
    }

    /// The answer in progress ended: the requests that waited go on, until one has to wait again.
    func letWaitingIn(_ context: ChannelHandlerContext) {
        // Called again from inside the loop below (a request answered at once): that loop goes on.
        if draining { return }
        draining = true
        defer { draining = false }
        // The rest of a request follows its head; the next head waits until this request is answered.
        var handedOn = false
        while let part = waiting.first {
            if closing {
                waiting.removeAll()
                break
            }
            if case .head = part, !isIdle { break }
            waiting.removeFirst()
            process(part, context: context)
            handedOn = true
        }
        // Hummingbird's async channel hands reads on at the end of each read.
        if handedOn { context.fireChannelReadComplete() }
        if waiting.isEmpty { releaseHeld(context) }
    }

    /// Nothing waits any more: tells what was held back meanwhile (the client's half-close), and reads.
    private func releaseHeld(_ context: ChannelHandlerContext) {
        if inputClosedWaiting, !servingNatively {
            inputClosedWaiting = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if readHeld {
            readHeld = false
            context.read()
        }
    }

    /// The native answer in progress ended (on the loop): the next request may go on, unless the
    /// connection ends with this answer.
    func answerEnded(_ context: ChannelHandlerContext, keepAlive: Bool) {
        current = .idle
        guard keepAlive, !closing else { return }
        letWaitingIn(context)
    }

    /// The endpoint that serves this request here, if any.
    func route(for head: HTTPRequestHead) -> Route? {
        guard head.method == .GET else { return nil }
        let path = head.uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { head.uri[..<$0] } ?? head.uri[...]
        switch path {
        case "/poll": return endpoints.longPoll.map(Route.poll)
        case "/events": return endpoints.events.map(Route.events)
        default: return nil
        }
    }

    /// Hands on what waits and leaves the pipeline: after an upgrade, what passes is not HTTP.
    func stepAside(_ context: ChannelHandlerContext) {
        if !waiting.isEmpty {
            while let part = waiting.popFirst() { context.fireChannelRead(wrapInboundOut(part)) }
            context.fireChannelReadComplete()
        }
        releaseHeld(context)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
