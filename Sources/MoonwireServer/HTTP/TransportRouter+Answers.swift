import Hummingbird
import MoonwireCore
import NIOCore
import NIOHTTP1

/// Native answers: the hub's work in a task on the connection's loop, and the answer written from there.
extension TransportRouter {
    /// Starts the hub's work on a native request whose end was read (or refuses its origin at once).
    func answer(_ head: HTTPRequestHead, _ route: Route, context: ChannelHandlerContext) {
        let origins = head.headers["origin"]
        if !origins.isEmpty, let refusal = endpoints.cors.refusal(origins, host: head.headers.first(name: "host")) {
            respond(head, .failure(refusal), allowOrigin: false)
            return
        }
        let query = RequestQuery(target: head.uri)
        let headers = Request.headerDictionary(head.headers.map { ($0.name.lowercased(), $0.value) })
        let token = query.bearerToken(authorization: headers["authorization"])
        let remoteAddress = context.channel.remoteAddress?.ipAndPort
        let router = NIOLoopBound(self, eventLoop: context.eventLoop)
        // Plugin hooks may block their thread while they wait for a Lua state: with plugins, the hub's work
        // runs on the shared pool, as Hummingbird's handlers do.
        let hub = switch route {
        case .poll(let longPoll): longPoll.hub
        case .events(let events): events.hub
        }
        var executor: (any TaskExecutor)?
        if hub.hooks is NoHooks {
            executor = self.executor ?? EventLoopTaskExecutor.shared(for: context.eventLoop)
            self.executor = executor
        }
        let request = NativeRequest(
            head: head, query: query, headers: headers, token: token, remoteAddress: remoteAddress, router: router,
            channel: context.channel)
        // On the connection's loop (without plugins): a poll answered at once never leaves this thread.
        let serve: @Sendable () async -> Void = { await Self.serve(request, route) }
        work = Task(executorPreference: executor, operation: serve)
    }

    /// The hub's work on one native request (in its task).
    static func serve(_ request: NativeRequest, _ route: Route) async {
        switch route {
        case .poll(let longPoll): await poll(request, longPoll)
        case .events(let events): await stream(request, events)
        }
    }

    /// A native request as the hub's work on it needs it.
    struct NativeRequest: Sendable {
        let head: HTTPRequestHead
        let query: RequestQuery
        let headers: [String: String]
        let token: String?
        let remoteAddress: String?
        let router: NIOLoopBound<TransportRouter>
        let channel: any Channel
    }

    /// Answers a long-poll once the hub has.
    static func poll(_ request: NativeRequest, _ longPoll: LongPollEndpoint) async {
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

    /// Runs `body` on `loop`: at once when already there (the tasks above run there), else soon.
    static func onLoop(_ loop: any EventLoop, _ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// Writes the answer to `request` (on the loop), if the client is still there, with the CORS headers
    /// that `CORSMiddleware` adds to Hummingbird's answers when `allowOrigin`.
    func respond(_ request: HTTPRequestHead, _ result: Result<[UInt8], HubError>, allowOrigin: Bool) {
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
        let keepAlive = request.isKeepAlive
        writeHead(request, status: status, headers: headers, allowOrigin: allowOrigin, keepAlive: keepAlive, context: context)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        writeEnd(keepAlive: keepAlive, context: context)
        answerEnded(context, keepAlive: keepAlive)
    }

    /// Adds what every answer carries (CORS, `Date`, `Server`, `Connection`) and writes the head.
    /// `keepAlive`: whether the connection may serve another request after this answer.
    func writeHead(
        _ request: HTTPRequestHead, status: HTTPResponseStatus, headers: HTTPHeaders, allowOrigin: Bool, keepAlive: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = headers
        if allowOrigin, let origin = request.headers.first(name: "origin") {
            headers.add(contentsOf: CORSPolicy.answerHeaders(origin: origin))
        }
        headers.add(name: "Date", value: HTTPDate.now())
        headers.add(name: "Server", value: "Moonwire")
        if !keepAlive || closeAfterAnswer {
            headers.add(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let version = request.version.major == 1 ? request.version : .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
    }

    /// Ends the response, and the connection unless it is kept alive (and the server is not shutting down).
    func writeEnd(keepAlive: Bool, context: ChannelHandlerContext) {
        if keepAlive && !closeAfterAnswer {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            closing = true
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
