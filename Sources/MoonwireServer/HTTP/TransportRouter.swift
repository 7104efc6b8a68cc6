import MoonwireCore
import NIOCore
import NIOHTTP1

/// Serves `GET /poll` and `GET /events` in the connection's own pipeline, without Hummingbird's
/// per-request machinery (an async channel, a `Request`, the router, the middlewares, a `Response`);
/// everything else goes on, as decoded, to Hummingbird's handlers after it.
///
/// It sits after NIO's `HTTPServerPipelineHandler`, which lets one request through at a time, so its
/// answers and Hummingbird's never interleave on a keep-alive connection. A first request that asks for
/// an upgrade (WebSocket) is handed on and both handlers leave the pipeline: what follows is not HTTP.
/// The hub's work for a request runs in a task on this connection's event loop (`EventLoopTaskExecutor`).
final class TransportRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
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
        /// Hummingbird serves the request being read: its parts go on.
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
        clientWentAway()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed, case .streaming = current {
            clientWentAway()
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

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            let upgrade = head.headers.contains(name: "upgrade")
            if !upgrade, let route = route(for: head) {
                current = .reading(head, route)
                return
            }
            if upgrade, !forwardedAny {
                context.fireChannelRead(data)
                stepAside(context)
                return
            }
            forwardedAny = true
            current = .forwarded
            context.fireChannelRead(data)
        case .body:
            // A body on a native GET is read and dropped.
            if case .forwarded = current { context.fireChannelRead(data) }
        case .end:
            switch current {
            case .reading(let head, let route):
                current = .answering
                answer(head, route, context: context)
            case .forwarded:
                current = .idle
                context.fireChannelRead(data)
            case .idle, .answering, .streaming:
                context.fireChannelRead(data)
            }
        }
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

    /// Leaves the pipeline with the pipelining handler before it: after an upgrade, what passes is not HTTP.
    private func stepAside(_ context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        if let pipelining = try? pipeline.context(handlerType: HTTPServerPipelineHandler.self) {
            pipeline.removeHandler(context: pipelining, promise: nil)
        }
        pipeline.removeHandler(context: context, promise: nil)
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
        current = .idle
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

    /// Ends the response (and the connection, unless it is kept alive).
    private func writeEnd(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        if request.isKeepAlive {
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
