import MoonwireCore
import NIOCore
import NIOHTTP1

/// Guards one HTTP connection, placed right after the HTTP decoder:
///
/// - a request head must arrive within `headerTimeout` of the connection's start (or, between requests,
///   of its first byte), a body within `bodyTimeout` of its head: else `408 request_timeout` and close;
///   a connection with no request in progress for `idleTimeout` (or never used for `headerTimeout`) is
///   closed without an answer;
/// - what the HTTP parser refuses is answered `400 bad_request`, a `Host` not allowed `421
///   host_not_allowed`, each in the hub's JSON error shape, then the connection closes;
/// - on graceful shutdown, a connection with no request in progress is closed at once;
/// - when the connection upgrades to WebSocket, `WebSocketMaskCheck` takes over and this handler leaves.
///
/// No timer runs while a response is awaited or streams (SSE, a parked long-poll).
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    /// Request parts from the HTTP decoder; but when an upgrade removes the decoder, the bytes it still
    /// held come through raw. `Any` tells the two apart.
    typealias InboundIn = Any
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The limits a guard applies.
    struct Settings: Sendable {
        var headerTimeout: TimeAmount
        var bodyTimeout: TimeAmount
        var idleTimeout: TimeAmount
        var hosts: HostPolicy
    }

    /// How long an answered connection keeps reading (and dropping) what the client still sends before
    /// it closes: closing with unread input would reset the connection and could lose the answer.
    static let linger: TimeAmount = .seconds(2)

    private enum Inbound {
        /// Waiting for the next request's head since `since`. `idle`: nothing of it has arrived since the
        /// last response; `started`: some of it has.
        case head(since: NIODeadline, idle: Bool, started: Bool)
        /// A head was read; its body has been arriving since `since`.
        case body(since: NIODeadline)
        /// Answered (or timed out): what arrives is dropped until the connection closes.
        case closing
    }

    private let settings: Settings
    /// An answer to give at once instead of serving (the open-connection limit).
    private let refusal: HubError?
    private var inbound: Inbound = .head(since: .now(), idle: false, started: false)
    /// Request heads read whose response has not ended.
    private var openRequests = 0
    /// A response head has been written and its end not yet.
    private var responding = false
    /// Request parts read since the last read completed.
    private var partsInRead = 0
    /// The connection is active and its first timer set (or its refusal sent).
    private var running = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var maskCheck: WebSocketMaskCheck?
    /// The `101` of a WebSocket upgrade went out.
    private var upgraded = false
    private var leaving = false
    /// The handlers after this one were told that no more input comes.
    private var inputClosed = false
    /// The answer to bytes the parser refused after a complete request, given once the responses owed
    /// before them are out.
    private var malformed: HubError?

    init(settings: Settings, refusal: HubError? = nil) {
        self.settings = settings
        self.refusal = refusal
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        // Tell the handlers after this one that no more input comes, if nobody has: a connection closed
        // by the hub before its first request was read would otherwise make the upgrade handler report
        // a failed upgrade as an error.
        if !inputClosed {
            inputClosed = true
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        context.fireChannelInactive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !running else { return }
        running = true
        inbound = .head(since: .now(), idle: false, started: false)
        if let refusal {
            answer(refusal, context: context)
        } else {
            arm(context)
        }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let part = Self.unwrapInboundIn(data) as? HTTPServerRequestPart else {
            // Raw bytes: the HTTP decoder left for a WebSocket upgrade; they are the client's first frames.
            installMaskCheck(context)
            context.fireChannelRead(data)
            return
        }
        if case .closing = inbound { return }
        if malformed != nil { return }
        partsInRead += 1
        switch part {
        case .head(let head):
            if let problem = check(head) {
                answer(problem, version: head.version, context: context)
                return
            }
            openRequests += 1
            inbound = .body(since: .now())
            arm(context)
        case .body:
            break
        case .end:
            // Idle already if the response went out before the body had all arrived.
            inbound = .head(since: .now(), idle: openRequests == 0, started: false)
            arm(context)
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch inbound {
        case .head(let since, let idle, let started) where partsInRead == 0 && !started:
            // Bytes arrived but no complete part: a request head has begun.
            inbound = .head(since: idle ? .now() : since, idle: false, started: true)
            arm(context)
        case .closing:
            context.read()
        default:
            break
        }
        partsInRead = 0
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .closing = inbound { return }
        if let parserError = error as? HTTPParserError, parserError == .invalidEOFState {
            // The client closed in the middle of a request: nobody to answer.
            close(context)
            return
        }
        if error is HTTPParserError {
            let problem = HubError(.badRequest, "malformed HTTP request (\(error))")
            // The request being read is malformed: answer it. Bytes after a complete request are: answer
            // once the responses owed before them are out.
            var current = openRequests == 0
            if case .body = inbound, openRequests == 1 { current = true }
            if current && !responding {
                answer(problem, context: context)
            } else {
                malformed = problem
            }
            return
        }
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            if case .head = inbound, openRequests == 0 {
                close(context)
                return
            }
        case let event as ChannelEvent where event == .inputClosed:
            inputClosed = true
            if case .closing = inbound {
                // Answered, and the client is done too: close now rather than at the end of the linger.
                context.fireUserInboundEventTriggered(event)
                context.close(promise: nil)
                return
            }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The answer a request head gets instead of being served, if any.
    private func check(_ head: HTTPRequestHead) -> HubError? {
        let hosts = head.headers["host"]
        if hosts.count > 1 {
            return HubError(.badRequest, "malformed HTTP request (more than one Host header)")
        }
        if !settings.hosts.allows(host: hosts.first) {
            let host = String((hosts.first ?? "").prefix(200))
            return HubError(
                .hostNotAllowed, "host '\(host)' is not in server.allowed_hosts (this hub answers only for the names it is configured with)")
        }
        return nil
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch Self.unwrapOutboundIn(data) {
        case .head(let head) where head.status == .switchingProtocols:
            // Upgraded: the WebSocket check takes over, and this handler leaves once the answer is flushed.
            upgraded = true
            cancelTimer()
            installMaskCheck(context)
        case .head(let head):
            if head.status.code >= 200 { responding = true }
        case .body:
            break
        case .end:
            responding = false
            openRequests = max(0, openRequests - 1)
            if openRequests == 0, let malformed {
                context.write(data, promise: promise)
                answer(malformed, context: context)
                return
            }
            if openRequests == 0, case .head(_, _, let started) = inbound {
                inbound = .head(since: .now(), idle: !started, started: started)
                arm(context)
            }
        }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
        if upgraded, !leaving {
            leaving = true
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    // MARK: Timers

    /// When the connection times out in its present state; `nil` while the hub owes a response.
    private var deadline: NIODeadline? {
        if upgraded { return nil }
        switch inbound {
        case .head(let since, let idle, _):
            guard openRequests == 0 else { return nil }
            return since + (idle ? settings.idleTimeout : settings.headerTimeout)
        case .body(let since):
            return since + settings.bodyTimeout
        case .closing:
            return nil
        }
    }

    /// Makes sure a timer fires by the deadline. A later deadline keeps the timer: it checks again when it fires.
    private func arm(_ context: ChannelHandlerContext) {
        guard let deadline else { return }
        if let scheduled = timerDeadline, scheduled <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            guard let deadline = self.deadline else { return }
            if NIODeadline.now() < deadline {
                arm(context)
            } else {
                expire(context)
            }
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }

    private func expire(_ context: ChannelHandlerContext) {
        switch inbound {
        case .head(_, let idle, let started) where started && !idle:
            answer(HubError(.requestTimeout, "request head not complete within \(Self.seconds(settings.headerTimeout)) s"), context: context)
        case .body where openRequests == 1 && !responding:
            answer(HubError(.requestTimeout, "request body not complete within \(Self.seconds(settings.bodyTimeout)) s"), context: context)
        default:
            // Idle, never used, or a response already given: nothing to tell.
            close(context)
        }
    }

    private static func seconds(_ amount: TimeAmount) -> String {
        let seconds = Double(amount.nanoseconds) / 1e9
        return seconds.rounded() == seconds ? String(Int(seconds)) : String(seconds)
    }

    // MARK: Answering and closing

    /// Writes `error` as a JSON answer with `Connection: close`, half-closes, and closes once the client
    /// closes too or `linger` passes.
    private func answer(_ error: HubError, version: HTTPVersion = .http1_1, context: ChannelHandlerContext) {
        if case .closing = inbound { return }
        inbound = .closing
        cancelTimer()
        let body = ByteBuffer(bytes: JSONWriter.bytes(HTTPResponses.errorObject(error)))
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: "close")
        let status = HTTPResponseStatus(statusCode: HTTPResponses.status(for: error.code).code)
        let head = HTTPResponseHead(version: version.major == 1 ? version : .http1_1, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
        context.read()
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.linger) {
            context.close(promise: nil)
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        inbound = .closing
        cancelTimer()
        context.close(promise: nil)
    }

    /// Puts the WebSocket frame check right after this handler, where the upgraded connection's bytes pass.
    private func installMaskCheck(_ context: ChannelHandlerContext) {
        guard maskCheck == nil else { return }
        let check = WebSocketMaskCheck()
        maskCheck = check
        try? context.pipeline.syncOperations.addHandler(check, position: .after(self))
    }
}
