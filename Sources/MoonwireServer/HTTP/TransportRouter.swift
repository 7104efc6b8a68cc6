import MoonwireCore
import NIOCore
import NIOHTTP1

/// Serves `GET /poll` in the connection's own pipeline, without Hummingbird's per-request machinery (an
/// async channel, a `Request`, the router, the middlewares, a `Response`); everything else goes on, as
/// decoded, to Hummingbird's handlers after it.
///
/// It sits after NIO's `HTTPServerPipelineHandler`, which lets one request through at a time, so its
/// answers and Hummingbird's never interleave on a keep-alive connection. A first request that asks for
/// an upgrade (WebSocket) is handed on and both handlers leave the pipeline: what follows is not HTTP.
final class TransportRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// What the router serves itself, and the rules its answers follow.
    struct Endpoints: Sendable {
        var longPoll: LongPollEndpoint?
        var cors: CORSPolicy
    }

    private enum Current {
        /// Between requests.
        case idle
        /// Hummingbird serves the request being read: its parts go on.
        case forwarded
        /// A native request whose head was read; served once its end is.
        case reading(HTTPRequestHead)
        /// A native request being answered.
        case answering
    }

    private let endpoints: Endpoints
    private var current = Current.idle
    /// A request went on to Hummingbird, so its upgrade handler has made up its mind (and left).
    private var forwardedAny = false
    private var context: ChannelHandlerContext?
    /// The work of the native request being answered; cancelled when the client goes away.
    private var work: Task<Void, Never>?
    /// Runs that work on this connection's event loop.
    private var executor: EventLoopTaskExecutor?

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
        work?.cancel()
        work = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            let upgrade = head.headers.contains(name: "upgrade")
            if !upgrade, serves(head) {
                current = .reading(head)
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
            case .reading(let head):
                current = .answering
                answer(head, context: context)
            case .forwarded:
                current = .idle
                context.fireChannelRead(data)
            case .idle, .answering:
                context.fireChannelRead(data)
            }
        }
    }

    /// Whether the router answers this request itself.
    private func serves(_ head: HTTPRequestHead) -> Bool {
        guard head.method == .GET, endpoints.longPoll != nil else { return false }
        let path = head.uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { head.uri[..<$0] } ?? head.uri[...]
        return path == "/poll"
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

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard let longPoll = endpoints.longPoll else { return }
        let origins = head.headers["origin"]
        if !origins.isEmpty, let refused = endpoints.cors.firstRefused(origins, host: head.headers.first(name: "host")) {
            respond(head, .failure(HubError(.originNotAllowed, "origin '\(refused)' is not in server.allowed_origins")), allowOrigin: false)
            return
        }
        let query = RequestQuery(target: head.uri)
        var headers: [String: String] = [:]
        for (name, value) in head.headers {
            let name = name.lowercased()
            if let existing = headers[name] { headers[name] = existing + ", " + value } else { headers[name] = value }
        }
        let token = query.bearerToken(authorization: headers["authorization"])
        let remoteAddress = context.channel.remoteAddress.flatMap { address in
            address.ipAddress.map { "\($0):\(address.port ?? 0)" }
        }
        let router = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        executor = executor ?? EventLoopTaskExecutor.shared(for: loop)
        // On the connection's loop: a poll answered at once never leaves this thread.
        work = Task(executorPreference: executor) {
            let result: Result<[UInt8], HubError>
            do throws(HubError) {
                result = .success(
                    try await longPoll.poll(query: query, headers: headers, token: token, remoteAddress: remoteAddress))
            } catch {
                result = .failure(error)
            }
            if loop.inEventLoop {
                router.value.respond(head, result, allowOrigin: true)
            } else {
                loop.execute { router.value.respond(head, result, allowOrigin: true) }
            }
        }
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
        if allowOrigin, let origin = request.headers.first(name: "origin") {
            headers.add(name: "Access-Control-Allow-Origin", value: origin)
            headers.add(name: "Access-Control-Expose-Headers", value: "Content-Type")
            headers.add(name: "Vary", value: "Origin")
        }
        headers.add(name: "Date", value: HTTPDate.now())
        headers.add(name: "Server", value: "Moonwire")
        let keepAlive = request.isKeepAlive
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let version = request.version.major == 1 ? request.version : .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
