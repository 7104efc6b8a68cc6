import NIOCore
import NIOHTTP1
import NIOPosix

/// One Server-Sent Events subscriber: an HTTP/1.1 GET whose streamed body is searched for benchmark
/// payloads line by line (each event's `data:` is one line on both servers).
///
/// Ready when the response head arrives: Moonwire answers once the stream has joined its rooms, Nchan
/// once it has subscribed.
final class SSESubscriber: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let load: LoadContext
    let recorder: Recorder
    let state: SubscriberState
    private let path: String
    private let ready: EventLoopPromise<Void>
    private var carry: ByteBuffer?
    private var context: ChannelHandlerContext?
    private var status: UInt = 0
    private var closing = false

    init(load: LoadContext, state: SubscriberState, path: String, ready: EventLoopPromise<Void>) {
        self.load = load
        self.recorder = load.recorder(for: state.index)
        self.state = state
        self.path = path
        self.ready = ready
    }

    static func connect(load: LoadContext, loop: EventLoop, path: String, state: SubscriberState) -> EventLoopFuture<SSESubscriber> {
        let ready = loop.makePromise(of: Void.self)
        let handler = SSESubscriber(load: load, state: state, path: path, ready: ready)
        let bootstrap = ClientBootstraps.make(on: loop).channelInitializer { channel in
            channel.pipeline.addHTTPClientHandlers().flatMap { channel.pipeline.addHandler(handler) }
        }
        return bootstrap.connect(host: load.endpoint.host, port: load.endpoint.port).flatMap { channel in
            channel.closeFuture.whenComplete { _ in ready.fail(BenchError.failed("stream closed before it started")) }
            return ready.futureResult.map { handler }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        for (name, value) in load.endpoint.commonHeaders() { head.headers.add(name: name, value: value) }
        head.headers.add(name: "Accept", value: "text/event-stream")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
            if status == 200 {
                ready.succeed(())
            } else {
                recorder.error("HTTP \(status)", "SSE subscriber \(state.index)")
            }
        case .body(var buffer):
            if status != 200 {
                if carry == nil { carry = buffer } // kept for the error message
                return
            }
            consume(&buffer)
        case .end:
            if status != 200 {
                let text = carry.map { String(buffer: $0) } ?? ""
                ready.fail(BenchError.failed("SSE refused: \(status) \(text.prefix(200))"))
                closing = true
                context.close(promise: nil)
            } else if !closing {
                closing = true
                recorder.error("stream ended", "SSE subscriber \(state.index)")
                recorder.unexpectedCloses.wrappingAdd(1, ordering: .relaxed)
                context.close(promise: nil)
            }
        }
    }

    /// Scans the complete lines received so far; keeps the incomplete last line for the next chunk.
    private func consume(_ buffer: inout ByteBuffer) {
        let state = self.state
        let recorder = self.recorder
        let scanner = load.scanner
        let now = BenchClock.realtimeMicros()
        if carry == nil {
            // The common case: the chunk holds whole lines.
            let complete: Int = buffer.withUnsafeReadableBytes { bytes in
                guard let last = lastNewline(bytes) else { return 0 }
                scanner.scan(UnsafeRawBufferPointer(rebasing: bytes[0...last])) { seq, micros in
                    recorder.record(seq: seq, micros: micros, now: now, subscriber: state)
                }
                return last + 1
            }
            buffer.moveReaderIndex(forwardBy: complete)
            if buffer.readableBytes > 0 { carry = buffer }
            return
        }
        carry!.writeBuffer(&buffer)
        let complete: Int = carry!.withUnsafeReadableBytes { bytes in
            guard let last = lastNewline(bytes) else { return 0 }
            scanner.scan(UnsafeRawBufferPointer(rebasing: bytes[0...last])) { seq, micros in
                recorder.record(seq: seq, micros: micros, now: now, subscriber: state)
            }
            return last + 1
        }
        carry!.moveReaderIndex(forwardBy: complete)
        if carry!.readableBytes == 0 {
            carry = nil
        } else if carry!.readerIndex > 65536 {
            carry!.discardReadBytes()
        }
    }

    private func lastNewline(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = bytes.count - 1
        while index >= 0 {
            if bytes[index] == 10 { return index }
            index -= 1
        }
        return nil
    }

    /// Closes the stream (from any thread).
    func close() {
        recorder.loop.execute {
            self.closing = true
            self.context?.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !closing {
            closing = true
            recorder.error("connection lost", "SSE subscriber \(state.index)")
            recorder.unexpectedCloses.wrappingAdd(1, ordering: .relaxed)
        }
        ready.fail(BenchError.failed("stream closed before it started"))
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !closing { recorder.error("sse error", "\(error)") }
        context.close(promise: nil)
    }
}
