import AsyncHTTPClient
import Foundation
public import MoonwireCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// Plain HTTP calls to a hub: JSON in, JSON out. Also opens SSE streams.
public struct HubHTTPClient: Sendable {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    public let baseURL: String
    /// Extra headers sent with every request (an API key, say).
    public var headers: [(String, String)]

    /// One HTTP client for the process, without read timeouts (SSE streams and long polls stay open).
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 10_000)
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
    }()

    /// The same, but failing at once when a connection cannot be made (instead of retrying for the connect
    /// timeout): for callers that retry by themselves, like `MoonwireClient`, or report at once, like the CLI.
    static let failFastClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 10_000)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
    }()

    /// The client requests go through.
    let httpClient: HTTPClient

    /// - Parameter retryConnecting: whether a connection that cannot be made is retried (with backoff, for
    ///   up to 10 s) before the request fails; `false` fails at once.
    public init(baseURL: String, headers: [(String, String)] = [], retryConnecting: Bool = true) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.headers = headers
        self.httpClient = retryConnecting ? Self.client : Self.failFastClient
    }

    /// A response: status, headers and the body parsed as JSON (`nil` if it is not JSON).
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: JSONValue?
        public var text: String

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    /// Sends a request; `body` is encoded as JSON.
    public func request(
        _ method: String, _ path: String, json body: JSONValue? = nil, rawBody: String? = nil, headers extra: [(String, String)] = [],
        timeout: Duration = .seconds(90)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers + extra { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(body)))
        } else if let rawBody {
            request.body = .bytes(ByteBuffer(string: rawBody))
        }
        let response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(timeout.nanoseconds)))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        let text = String(buffer: buffer)
        return Reply(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name, $0.value) },
            body: try? JSONParser().parse(Array(buffer.readableBytesView)),
            text: text)
    }

    /// Opens an SSE stream at `path` (e.g. `/events?rooms=general`).
    public func openEventStream(_ path: String, lastEventID: String? = nil, headers extra: [(String, String)] = []) async throws -> SSEStream {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "Accept", value: "text/event-stream")
        for (name, value) in headers + extra { request.headers.add(name: name, value: value) }
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        return try await SSEStream.open(request, client: Self.client)
    }
}
