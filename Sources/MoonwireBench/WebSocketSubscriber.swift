import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// One WebSocket client connection, as lean as NIO allows: the HTTP upgrade, then a frame handler that
/// finds benchmark payloads in text frames, answers pings, and can send frames (chat).
///
/// Moonwire: the handler sends the auth frame (`{"user_id":…,"rooms":[ROOM]}`) and a heartbeat ping
/// with a `ref` right after the upgrade; the hub handles a connection's frames in order and joins the
/// rooms before it reads the second frame, so the pong means "joined": the connection is ready. It sends
/// the seed's heartbeat every 25 s so that `heartbeat.timeout` never closes it.
/// Nchan: subscribed once the upgrade is done.
final class WebSocketSubscriber: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let load: LoadContext
    let recorder: Recorder
    let state: SubscriberState
    private let authFrame: [UInt8]?
    private let ready: EventLoopPromise<Void>
    private var isReady = false
    private var context: ChannelHandlerContext?
    private var fragments: ByteBuffer?
    private var heartbeat: RepeatedTask?
    /// Set when this side closes on purpose.
    private(set) var closing = false
    /// Text frames of other kinds (errors, acks …) are passed here when set (chat, storm).
    var onOtherFrame: ((UnsafeRawBufferPointer) -> Void)?

    init(load: LoadContext, recorder: Recorder, state: SubscriberState, authFrame: [UInt8]?, ready: EventLoopPromise<Void>) {
        self.load = load
        self.recorder = recorder
        self.state = state
        self.authFrame = authFrame
        self.ready = ready
    }

    /// Moonwire's auth frame for `user` joining `rooms`.
    static func moonwireAuthFrame(user: String, rooms: [String]) -> [UInt8] {
        let list = rooms.map { "\"\($0)\"" }.joined(separator: ",")
        return Array(#"{"user_id":"\#(user)","metadata":{},"rooms":[\#(list)]}"#.utf8)
    }

    static let readyPing = Array(#"{"event_type":"heartbeat","data":{"ping":true},"ref":"ready"}"#.utf8)
    static let heartbeatFrame = Array(#"{"event_type":"heartbeat","data":{"ping":true}}"#.utf8)

    /// Opens the connection; the future completes once the WebSocket is ready to receive.
    static func connect(
        load: LoadContext, loop: EventLoop, path: String, state: SubscriberState, authFrame: [UInt8]?,
        configure: ((WebSocketSubscriber) -> Void)? = nil
    ) -> EventLoopFuture<WebSocketSubscriber> {
        let recorder = load.recorder(for: state.index)
        let ready = loop.makePromise(of: Void.self)
        let handler = WebSocketSubscriber(load: load, recorder: recorder, state: state, authFrame: authFrame, ready: ready)
        configure?(handler)
        let endpoint = load.endpoint
        let request = UpgradeRequestHandler(path: path, headers: endpoint.commonHeaders(), failure: ready)
        let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 22, automaticErrorHandling: true) { channel, _ in
            channel.pipeline.addHandler(handler)
        }
        let bootstrap = ClientBootstraps.make(on: loop).channelInitializer { channel in
            let configuration: NIOHTTPClientUpgradeSendableConfiguration = (
                upgraders: [upgrader],
                completionHandler: { context in context.pipeline.removeHandler(request, promise: nil) }
            )
            return channel.pipeline.addHTTPClientHandlers(withClientUpgrade: configuration).flatMap {
                channel.pipeline.addHandler(request)
            }
        }
        return bootstrap.connect(host: endpoint.host, port: endpoint.port).flatMap { channel in
            channel.closeFuture.whenComplete { _ in ready.fail(BenchError.failed("connection closed before it was ready")) }
            return ready.futureResult.map { handler }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let authFrame {
            send(authFrame, context: context)
            send(Self.readyPing, context: context)
            heartbeat = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(25), delay: .seconds(25)) { [weak self] _ in
                guard let self, let context = self.context else { return }
                self.send(Self.heartbeatFrame, context: context)
            }
        } else {
            markReady()
        }
    }

    private func markReady() {
        guard !isReady else { return }
        isReady = true
        ready.succeed(())
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            if frame.fin {
                var data = frame.unmaskedData
                handleMessage(&data)
            } else {
                fragments = frame.unmaskedData
            }
        case .continuation:
            guard var buffer = fragments else { return }
            var data = frame.unmaskedData
            buffer.writeBuffer(&data)
            if frame.fin {
                fragments = nil
                handleMessage(&buffer)
            } else {
                fragments = buffer
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self).map(String.init) ?? "none"
            let reason = data.readString(length: data.readableBytes) ?? ""
            if !closing {
                closing = true
                recorder.error("closed by server", "close \(code) \(reason)")
                recorder.unexpectedCloses.wrappingAdd(1, ordering: .relaxed)
            }
            var closeData = context.channel.allocator.buffer(capacity: 2)
            closeData.writeInteger(UInt16(1000))
            let close = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: closeData)
            context.writeAndFlush(wrapOutboundOut(close)).whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }

    private func handleMessage(_ buffer: inout ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            if !isReady, Bytes.find("\"pong\":true", in: bytes) != nil {
                markReady()
                return
            }
            let state = self.state
            let recorder = self.recorder
            let now = BenchClock.realtimeMicros()
            let hits = load.scanner.scan(bytes) { seq, micros in
                recorder.record(seq: seq, micros: micros, now: now, subscriber: state)
            }
            if hits == 0 {
                if Bytes.find("\"event_type\":\"error\"", in: bytes) != nil {
                    let code = Bytes.stringValue(after: "\"code\":\"", in: bytes) ?? "error"
                    recorder.error("error event", "\(code): \(Bytes.stringValue(after: "\"message\":\"", in: bytes) ?? "")")
                }
                onOtherFrame?(bytes)
            }
        }
    }

    /// Sends a text frame (on the connection's loop).
    func send(_ bytes: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: buffer)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    /// Sends a text frame; false when the connection is gone. Call on the connection's loop.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard let context, !closing, context.channel.isActive else { return false }
        send(bytes, context: context)
        return true
    }

    var eventLoop: EventLoop { recorder.loop }

    /// Closes with 1000 (from any thread).
    func close() {
        eventLoop.execute {
            guard let context = self.context else { return }
            self.closing = true
            self.heartbeat?.cancel()
            var data = context.channel.allocator.buffer(capacity: 2)
            data.writeInteger(UInt16(1000))
            let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)
            context.writeAndFlush(self.wrapOutboundOut(frame), promise: nil)
            context.eventLoop.scheduleTask(in: .seconds(2)) { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        if !closing {
            closing = true
            recorder.error("connection lost", "WebSocket subscriber \(state.index)")
            recorder.unexpectedCloses.wrappingAdd(1, ordering: .relaxed)
        }
        self.context = nil
        ready.fail(BenchError.failed("connection closed before it was ready"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !closing { recorder.error("websocket error", "\(error)") }
        context.close(promise: nil)
    }
}

/// Sends the upgrade request (the upgrade handler adds the WebSocket headers) and reports a refused upgrade.
final class UpgradeRequestHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let path: String
    private let headers: [(String, String)]
    private let failure: EventLoopPromise<Void>
    private var status: HTTPResponseStatus?
    private var body = ""

    init(path: String, headers: [(String, String)], failure: EventLoopPromise<Void>) {
        self.path = path
        self.headers = headers
        self.failure = failure
    }

    func channelActive(context: ChannelHandlerContext) {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        head.headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only a refused upgrade gets here: its answer.
        switch unwrapInboundIn(data) {
        case .head(let head): status = head.status
        case .body(let buffer): if body.count < 300 { body += String(buffer: buffer) }
        case .end:
            failure.fail(BenchError.failed("upgrade refused: \(status.map { "\($0.code)" } ?? "?") \(body.prefix(200))"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failure.fail(BenchError.failed("upgrade failed: \(error)"))
        context.close(promise: nil)
    }
}
