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

    private enum Route: Sendable {
        case poll(LongPollEndpoint)
        case events(SSEEndpoint)
    }

    private enum Current {
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

    private let endpoints: Endpoints
    private var current = Current.idle
    /// Parts of requests that arrived while another was being answered, in order.
    private var waiting = CircularBuffer<HTTPServerRequestPart>(initialCapacity: 0)
    /// A read was held back while requests wait.
    private var readHeld = false
    /// The client half-closed while requests wait: told once they have gone on.
    private var inputClosedWaiting = false
    /// The server is shutting down: close once the native answer in progress has ended.
    private var closeAfterAnswer = false
    /// A request went on to Hummingbird, so its upgrade handler has made up its mind (and left).
    private var forwardedAny = false
    private var context: ChannelHandlerContext?
    /// The hub's work on the native request being answered; cancelled when the client goes away.
    private var work: Task<Void, Never>?
    /// Runs that work on this connection's event loop.
    private var executor: (any TaskExecutor)?

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
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let event as ChannelEvent where event == .inputClosed:
            if case .streaming = current { clientWentAway() }
            if !waiting.isEmpty {
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

    private func clientWentAway() {
        if case .streaming(let connection) = current {
            connection.close(.clientClosed)
        } else {
            work?.cancel()
            work = nil
        }
    }

    // MARK: Requests, one at a time

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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

    private var isIdle: Bool {
        if case .idle = current { return true }
        return false
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
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
    private func letWaitingIn(_ context: ChannelHandlerContext) {
        // The rest of a request follows its head; the next head waits until this request is answered.
        var handedOn = false
        while let part = waiting.first {
            if case .head = part, !isIdle { break }
            waiting.removeFirst()
            process(part, context: context)
            handedOn = true
        }
        // Hummingbird's async channel hands reads on at the end of each read.
        if handedOn { context.fireChannelReadComplete() }
        guard waiting.isEmpty else { return }
        if inputClosedWaiting {
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
    private func answerEnded(_ context: ChannelHandlerContext, keepAlive: Bool) {
        current = .idle
        guard keepAlive, !closeAfterAnswer else { return }
        letWaitingIn(context)
    }

    /// The endpoint that serves this request here, if any.
    private func route(for head: HTTPRequestHead) -> Route? {
        guard head.method == .GET else { return nil }
        let path = head.uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { head.uri[..<$0] } ?? head.uri[...]
        switch path {
        case "/poll": return endpoints.longPoll.map(Route.poll)
        case "/events": return endpoints.events.map(Route.events)
        default: return nil
        }
    }

    /// Hands on what waits and leaves the pipeline: after an upgrade, what passes is not HTTP.
    private func stepAside(_ context: ChannelHandlerContext) {
        while let part = waiting.popFirst() { context.fireChannelRead(wrapInboundOut(part)) }
        if inputClosedWaiting {
            inputClosedWaiting = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if readHeld {
            readHeld = false
            context.read()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: Answering

    private func answer(_ head: HTTPRequestHead, _ route: Route, context: ChannelHandlerContext) {
        let origins = head.headers["origin"]
        if !origins.isEmpty, let refused = endpoints.cors.firstRefused(origins, host: head.headers.first(name: "host")) {
            respond(head, .failure(HubError(.originNotAllowed, "origin '\(refused)' is not in server.allowed_origins")), allowOrigin: false)
            return
        }
        let query = RequestQuery(target: head.uri)
        let headers = Self.dictionary(head.headers)
        let token = query.bearerToken(authorization: headers["authorization"])
        let remoteAddress = context.channel.remoteAddress.flatMap { address in
            address.ipAddress.map { "\($0):\(address.port ?? 0)" }
        }
        let router = NIOLoopBound(self, eventLoop: context.eventLoop)
        let executor: any TaskExecutor = self.executor ?? EventLoopTaskExecutor.shared(for: context.eventLoop)
        self.executor = executor
        let request = NativeRequest(
            head: head, query: query, headers: headers, token: token, remoteAddress: remoteAddress, router: router,
            channel: context.channel)
        // On the connection's loop: a poll answered at once never leaves this thread.
        let serve: @Sendable () async -> Void = { await Self.serve(request, route) }
        work = Task(executorPreference: executor, operation: serve)
    }

    private static func serve(_ request: NativeRequest, _ route: Route) async {
        switch route {
        case .poll(let longPoll): await poll(request, longPoll)
        case .events(let events): await stream(request, events)
        }
    }

    /// A native request as the hub's work on it needs it.
    private struct NativeRequest: Sendable {
        let head: HTTPRequestHead
        let query: RequestQuery
        let headers: [String: String]
        let token: String?
        let remoteAddress: String?
        let router: NIOLoopBound<TransportRouter>
        let channel: any Channel
    }

    private static func poll(_ request: NativeRequest, _ longPoll: LongPollEndpoint) async {
        let result: Result<[UInt8], HubError>
        do throws(HubError) {
            result = .success(
                try await longPoll.poll(
                    query: request.query, headers: request.headers, token: request.token, remoteAddress: request.remoteAddress))
        } catch {
            result = .failure(error)
        }
        let router = request.router
        onLoop(router.eventLoop) { router.value.respond(request.head, result, allowOrigin: true) }
    }

    private static func stream(_ request: NativeRequest, _ events: SSEEndpoint) async {
        let router = request.router
        let opened: (connection: Connection, format: SSEEventFormat)
        do throws(HubError) {
            opened = try await events.open(
                query: request.query, lastEventID: request.head.headers.first(name: "last-event-id"), headers: request.headers,
                token: request.token, remoteAddress: request.remoteAddress, channel: request.channel)
        } catch {
            onLoop(router.eventLoop) { router.value.respond(request.head, .failure(error), allowOrigin: true) }
            return
        }
        let (connection, format) = opened
        onLoop(router.eventLoop) { router.value.beginStream(request.head, connection: connection, format: format) }
        var transport = SSEStreamTransport(router: router, format: format)
        await events.hub.serve(connection, over: &transport)
        onLoop(router.eventLoop) { router.value.endStream(request.head) }
    }

    /// Headers as plugins see them: names in lower case, a repeated header's values joined by commas.
    private static func dictionary(_ headers: HTTPHeaders) -> [String: String] {
        var dictionary: [String: String] = [:]
        for (name, value) in headers {
            let name = name.lowercased()
            if let existing = dictionary[name] { dictionary[name] = existing + ", " + value } else { dictionary[name] = value }
        }
        return dictionary
    }

    /// Runs `body` on `loop`: at once when already there (the tasks above run there), else soon.
    private static func onLoop(_ loop: any EventLoop, _ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// Writes the answer to `request` (on the loop), if the client is still there, with the CORS headers
    /// that `CORSMiddleware` adds to Hummingbird's answers when `allowOrigin`.
    private func respond(_ request: HTTPRequestHead, _ result: Result<[UInt8], HubError>, allowOrigin: Bool) {
        work = nil
        guard case .answering = current, let context, context.channel.isActive else { return }
        let body: ByteBuffer
        let status: HTTPResponseStatus
        switch result {
        case .success(let bytes):
            body = context.channel.allocator.buffer(bytes: bytes)
            status = .ok
        case .failure(let error):
            body = context.channel.allocator.buffer(bytes: JSONWriter.bytes(HTTPResponses.errorObject(error)))
            status = HTTPResponseStatus(statusCode: HTTPResponses.status(for: error.code).code)
        }
        var headers = HTTPHeaders()
        headers.reserveCapacity(10)
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        writeHead(request, status: status, headers: headers, allowOrigin: allowOrigin, context: context)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        writeEnd(request, context: context)
        answerEnded(context, keepAlive: request.isKeepAlive)
    }

    /// Adds what every answer carries (CORS, `Date`, `Server`, `Connection`) and writes the head.
    private func writeHead(
        _ request: HTTPRequestHead, status: HTTPResponseStatus, headers: HTTPHeaders, allowOrigin: Bool, context: ChannelHandlerContext
    ) {
        var headers = headers
        if allowOrigin, let origin = request.headers.first(name: "origin") {
            headers.add(name: "Access-Control-Allow-Origin", value: origin)
            headers.add(name: "Access-Control-Expose-Headers", value: "Content-Type")
            headers.add(name: "Vary", value: "Origin")
        }
        headers.add(name: "Date", value: HTTPDate.now())
        headers.add(name: "Server", value: "Moonwire")
        if !request.isKeepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let version = request.version.major == 1 ? request.version : .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
    }

    /// Ends the response, and the connection unless it is kept alive (and the server is not shutting down).
    private func writeEnd(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        if request.isKeepAlive && !closeAfterAnswer {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    // MARK: Streams

    /// Starts an SSE stream's response; live events may then reach it straight from the hub. A client that
    /// is already gone gets none: its connection closes, and its pump ends at once.
    private func beginStream(_ request: HTTPRequestHead, connection: Connection, format: SSEEventFormat) {
        guard case .answering = current, let context, context.channel.isActive else {
            connection.close(.clientClosed)
            return
        }
        current = .streaming(connection)
        var headers = HTTPHeaders()
        headers.reserveCapacity(10)
        headers.add(name: "Content-Type", value: "text/event-stream; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-cache")
        headers.add(name: "X-Accel-Buffering", value: "no")
        writeHead(request, status: .ok, headers: headers, allowOrigin: true, context: context)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: SSEEndpoint.preamble)))), promise: nil)
        connection.attachDirectSink(SSEDirectSink<TransportRouter>(channel: context.channel, format: format))
    }

    /// Writes a stream's body part; `written` completes at once while the socket keeps up, else once this
    /// part is out (the pump waits, and the connection's bounded queue takes the backlog).
    fileprivate func writeStream(_ bytes: ByteBuffer, written: EventLoopPromise<Void>) {
        guard case .streaming = current, let context, context.channel.isActive else {
            written.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if context.channel.isWritable {
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
            written.succeed()
        } else {
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: written)
        }
    }

    /// Ends a stream's response once its pump has written the `disconnect` event; the connection then
    /// serves its next request.
    private func endStream(_ request: HTTPRequestHead) {
        work = nil
        guard case .streaming = current else { return }
        current = .idle
        guard let context, context.channel.isActive else { return }
        writeEnd(request, context: context)
        answerEnded(context, keepAlive: request.isKeepAlive)
    }

    /// Delivers a stream's queue as Server-Sent Events through the router (on its event loop).
    private struct SSEStreamTransport: Transport {
        let router: NIOLoopBound<TransportRouter>
        let format: SSEEventFormat

        mutating func write(_ items: [OutboundItem]) async throws {
            var buffer = ByteBuffer()
            for item in items {
                switch item {
                case .keepAlive: buffer.writeString(": keep-alive\n\n")
                case .event(let encoded): format.append(encoded, to: &buffer)
                }
            }
            try await send(buffer)
        }

        /// Sends a final `disconnect` event with the reason; the stream then ends.
        mutating func close(_ reason: DisconnectReason) async {
            let data: JSONValue = ["code": .string(reason.code), "message": .string(reason.message)]
            var buffer = ByteBuffer()
            buffer.writeString("event: disconnect\ndata: ")
            buffer.writeBytes(JSONWriter.bytes(data))
            buffer.writeString("\n\n")
            try? await send(buffer)
        }

        private func send(_ buffer: ByteBuffer) async throws {
            let loop = router.eventLoop
            let written = loop.makePromise(of: Void.self)
            let router = router
            TransportRouter.onLoop(loop) { router.value.writeStream(buffer, written: written) }
            try await written.futureResult.get()
        }
    }
}
