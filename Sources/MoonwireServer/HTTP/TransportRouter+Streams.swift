import MoonwireCore
import NIOCore
import NIOHTTP1

/// SSE streams the router serves: opened by the hub, written from the router's context.
extension TransportRouter {
    /// Opens the stream, then runs its connection's pump until the connection closes.
    static func stream(_ request: NativeRequest, _ events: SSEEndpoint) async {
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

    /// Whether a stream's body is chunked: HTTP/1.1 (the encoder adds `Transfer-Encoding`). An HTTP/1.0
    /// stream has no framing and ends with the connection.
    static func isChunked(_ request: HTTPRequestHead) -> Bool {
        request.version.major == 1 && request.version.minor >= 1
    }

    /// Whether the connection may serve another request after a stream.
    static func keepsAlive(_ request: HTTPRequestHead) -> Bool {
        request.isKeepAlive && isChunked(request)
    }

    /// Starts an SSE stream's response; live events may then reach it straight from the hub. A client that
    /// is already gone gets none: its connection closes, and its pump ends at once.
    func beginStream(_ request: HTTPRequestHead, connection: Connection, format: SSEEventFormat) {
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
        writeHead(request, status: .ok, headers: headers, allowOrigin: true, keepAlive: Self.keepsAlive(request), context: context)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: SSEEndpoint.preamble)))), promise: nil)
        connection.attachDirectSink(
            SSEDirectSink(
                channel: context.channel, format: format,
                output: .belowEncoder(PipelineContext(of: HTTPResponseEncoder.self, in: context.channel), chunked: Self.isChunked(request))))
        // The client stopped sending while the stream opened: it ends at once, as it would have.
        if inputClosedWaiting { connection.close(.clientClosed) }
    }

    /// Writes a stream's body part; `written` completes at once while the socket keeps up, else once this
    /// part is out (the pump waits, and the connection's bounded queue takes the backlog).
    func writeStream(_ bytes: ByteBuffer, written: EventLoopPromise<Void>) {
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
    func endStream(_ request: HTTPRequestHead) {
        work = nil
        guard case .streaming = current else { return }
        current = .idle
        guard let context, context.channel.isActive else { return }
        writeEnd(keepAlive: Self.keepsAlive(request), context: context)
        answerEnded(context, keepAlive: Self.keepsAlive(request))
    }

    /// Delivers a stream's queue as Server-Sent Events through the router (on its event loop).
    struct SSEStreamTransport: Transport {
        let router: NIOLoopBound<TransportRouter>
        let format: SSEEventFormat

        mutating func write(_ items: [OutboundItem]) async throws {
            try await send(format.batch(items))
        }

        /// Sends a final `disconnect` event with the reason; the stream then ends.
        mutating func close(_ reason: DisconnectReason) async {
            try? await send(SSEEventFormat.disconnectEvent(reason))
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
