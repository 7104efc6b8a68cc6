import NIOCore
import NIOHTTP1
import NIOPosix

/// The answer to one HTTP request.
public struct HTTPReply: Sendable {
    public var status: UInt
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A keep-alive HTTP/1.1 client connection: requests are answered in order (one at a time is how the
/// publishers use it). Used to publish and for the few API calls a run makes.
final class HTTPConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let endpoint: HubEndpoint
    let loop: EventLoop
    private var channel: Channel?
    private var pending: [(EventLoopPromise<HTTPReply>)] = []
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?

    private init(endpoint: HubEndpoint, loop: EventLoop) {
        self.endpoint = endpoint
        self.loop = loop
    }

    static func connect(_ endpoint: HubEndpoint, on loop: EventLoop) -> EventLoopFuture<HTTPConnection> {
        let connection = HTTPConnection(endpoint: endpoint, loop: loop)
        return ClientBootstraps.make(on: loop).channelInitializer { channel in
            channel.pipeline.addHTTPClientHandlers().flatMap { channel.pipeline.addHandler(connection) }
        }.connect(host: endpoint.host, port: endpoint.port).map { channel in
            connection.channel = channel
            return connection
        }
    }

    static func connect(_ endpoint: HubEndpoint, on loop: EventLoop) async throws -> HTTPConnection {
        try await connect(endpoint, on: loop).get()
    }

    /// Sends a request; the future has the whole answer.
    func request(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers extra: [(String, String)] = []) -> EventLoopFuture<HTTPReply> {
        let promise = loop.makePromise(of: HTTPReply.self)
        loop.execute {
            guard let channel = self.channel, channel.isActive else {
                promise.fail(BenchError.failed("connection to \(self.endpoint.baseURL) is closed"))
                return
            }
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            for (name, value) in self.endpoint.commonHeaders() { head.headers.add(name: name, value: value) }
            for (name, value) in extra { head.headers.add(name: name, value: value) }
            head.headers.add(name: "Content-Length", value: String(body?.count ?? 0))
            if body != nil, !extra.contains(where: { $0.0.lowercased() == "content-type" }) {
                head.headers.add(name: "Content-Type", value: "application/json")
            }
            self.pending.append(promise)
            channel.write(.head(head) as HTTPClientRequestPart, promise: nil)
            if let body, !body.isEmpty {
                var buffer = channel.allocator.buffer(capacity: body.count)
                buffer.writeBytes(body)
                channel.write(.body(.byteBuffer(buffer)) as HTTPClientRequestPart, promise: nil)
            }
            channel.writeAndFlush(.end(nil) as HTTPClientRequestPart, promise: nil)
        }
        return promise.futureResult
    }

    func request(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = []) async throws -> HTTPReply {
        try await request(method, path, body: body, headers: headers).get()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
        case .body(var buffer):
            if body == nil { body = buffer } else { body!.writeBuffer(&buffer) }
        case .end:
            guard !pending.isEmpty, let head else { return }
            let promise = pending.removeFirst()
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            body = nil
            self.head = nil
            promise.succeed(HTTPReply(status: head.status.code, headers: head.headers, body: bytes))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let waiting = pending
        pending.removeAll()
        for promise in waiting { promise.fail(BenchError.failed("connection to \(endpoint.baseURL) closed")) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func close() {
        loop.execute { self.channel?.close(promise: nil) }
    }

    /// Connects, sends one request, closes.
    static func fetch(_ endpoint: HubEndpoint, on loop: EventLoop, _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil,
                      headers: [(String, String)] = []) async throws -> HTTPReply {
        let connection = try await connect(endpoint, on: loop)
        defer { connection.close() }
        return try await connection.request(method, path, body: body, headers: headers)
    }
}
