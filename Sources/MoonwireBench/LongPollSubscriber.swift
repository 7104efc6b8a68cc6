import NIOCore
import NIOHTTP1
import NIOPosix

/// One long-poll subscriber: a keep-alive connection that polls again as soon as an answer arrives,
/// carrying the cursor forward.
///
/// Moonwire: `GET /poll?client_id=C&rooms=R&timeout=30&last_message_id=CURSOR` (a JSON answer with
/// `messages` and the next `last_message_id`). Nchan: `GET /sub/ROOM` with `If-Modified-Since` /
/// `If-None-Match` taken from the previous answer's `Last-Modified` / `Etag` (several messages per
/// answer, one per line, with `nchan_longpoll_multipart_response raw`). A connection the server closes is
/// opened again.
final class LongPollSubscriber: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let load: LoadContext
    let recorder: Recorder
    let state: SubscriberState
    private let loop: EventLoop
    private let basePath: String
    private let ready: EventLoopPromise<Void>
    private var context: ChannelHandlerContext?
    private var stopped = false
    private var status: UInt = 0
    private var body: ByteBuffer?
    private var lastModified: String?
    private var etag: String?
    private var cursor: String?
    private var responseLastModified: String?
    private var responseEtag: String?
    /// Polls answered.
    private(set) var polls = 0

    init(load: LoadContext, loop: EventLoop, state: SubscriberState, path: String, ready: EventLoopPromise<Void>) {
        self.load = load
        self.recorder = load.recorder(for: state.index)
        self.state = state
        self.loop = loop
        self.basePath = path
        self.ready = ready
    }

    static func start(load: LoadContext, loop: EventLoop, path: String, state: SubscriberState) -> EventLoopFuture<LongPollSubscriber> {
        let ready = loop.makePromise(of: Void.self)
        let subscriber = LongPollSubscriber(load: load, loop: loop, state: state, path: path, ready: ready)
        subscriber.open(first: true)
        return ready.futureResult.map { subscriber }
    }

    private func open(first: Bool) {
        let bootstrap = ClientBootstraps.make(on: loop).channelInitializer { channel in
            channel.pipeline.addHTTPClientHandlers().flatMap { channel.pipeline.addHandler(self) }
        }
        bootstrap.connect(host: load.endpoint.host, port: load.endpoint.port).whenFailure { error in
            if first {
                self.ready.fail(error)
            } else {
                self.recorder.error("connect failed", "long-poll subscriber \(self.state.index): \(error)")
                self.reopenLater()
            }
        }
    }

    private func reopenLater() {
        guard !stopped else { return }
        loop.scheduleTask(in: .milliseconds(100)) { self.open(first: false) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        poll(context: context)
        context.fireChannelActive()
    }

    private func poll(context: ChannelHandlerContext) {
        guard !stopped else { return }
        var path = basePath
        var head: HTTPRequestHead
        switch load.endpoint.target {
        case .moonwire:
            path += "&timeout=30"
            if let cursor { path += "&last_message_id=\(cursor)" }
            head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        case .nchan:
            head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
            if let lastModified { head.headers.add(name: "If-Modified-Since", value: lastModified) }
            if let etag { head.headers.add(name: "If-None-Match", value: etag) }
        }
        for (name, value) in load.endpoint.commonHeaders() { head.headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.whenSuccess { self.ready.succeed(()) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
            responseLastModified = head.headers.first(name: "Last-Modified")
            responseEtag = head.headers.first(name: "Etag")
            body = nil
        case .body(var buffer):
            if body == nil {
                body = buffer
            } else {
                body!.writeBuffer(&buffer)
            }
        case .end:
            polls += 1
            recorder.countPollAnswer()
            handleAnswer()
            body = nil
            if status == 200 || status == 304 || status == 408 {
                poll(context: context)
            } else {
                context.eventLoop.scheduleTask(in: .milliseconds(200)) { [weak self] in
                    guard let self, let context = self.context else { return }
                    self.poll(context: context)
                }
            }
        }
    }

    private func handleAnswer() {
        switch (load.endpoint.target, status) {
        case (_, 304), (_, 408):
            return
        case (.moonwire, 200):
            guard let body else { return }
            let state = self.state
            let recorder = self.recorder
            let now = BenchClock.realtimeMicros()
            body.withUnsafeReadableBytes { bytes in
                load.dataScanner.scan(bytes) { seq, micros in
                    recorder.record(seq: seq, micros: micros, now: now, subscriber: state)
                }
                if let next = Bytes.stringValue(after: "\"last_message_id\":\"", in: bytes) { cursor = next }
                if Bytes.find("\"gaps\":[", in: bytes) != nil { recorder.error("gap", "long-poll subscriber \(state.index) was told of a gap") }
            }
        case (.nchan, 200):
            lastModified = responseLastModified ?? lastModified
            etag = responseEtag ?? etag
            guard let body else { return }
            let state = self.state
            let recorder = self.recorder
            let now = BenchClock.realtimeMicros()
            body.withUnsafeReadableBytes { bytes in
                _ = load.scanner.scan(bytes) { seq, micros in
                    recorder.record(seq: seq, micros: micros, now: now, subscriber: state)
                }
            }
        default:
            let text = body.map { String(buffer: $0) } ?? ""
            recorder.error("HTTP \(status)", "long-poll: \(text.prefix(160))")
        }
    }

    /// Stops polling and closes (from any thread).
    func close() {
        loop.execute {
            self.stopped = true
            self.context?.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        if !stopped {
            recorder.error("connection lost", "long-poll subscriber \(state.index) (reopened)")
            reopenLater()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !stopped { recorder.error("long-poll error", "\(error)") }
        context.close(promise: nil)
    }
}
