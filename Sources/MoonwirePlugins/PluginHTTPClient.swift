import AsyncHTTPClient
import Foundation
import LuaRuntime
import MoonwireCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// What `hub.http.request` does while its call waits: one request through a client shared by every plugin
/// (connections are reused), no redirects (they could leave the allowed hosts), a timeout within the
/// call's deadline, and a cap on the response's size.
enum PluginHTTPClient {
    /// A request as the plugin described it, checked.
    struct Request: Sendable {
        var method: String
        var url: String
        var headers: [(String, String)]
        var body: String?
        var timeout: Duration
    }

    /// The longest a request may take when the plugin names no `timeout`.
    static let defaultTimeout: Duration = .seconds(5)

    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.connectionPool = .init(idleTimeout: .seconds(60))
        // A refused connection is an answer: report it rather than retry until the timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
    }()

    /// Runs `request`, within `deadline` (monotonic ns; 0: none); what `hub.http.request` returns: the
    /// response table, or `nil` and the reason.
    static func perform(_ request: Request, deadline: UInt64, maxResponseBytes: Int) async -> [LuaValue] {
        var timeout = request.timeout.nanoseconds
        if deadline > 0 {
            let now = MonotonicClock.nanoseconds()
            guard deadline > now else { return failure("timeout: the hook's deadline has passed") }
            timeout = min(timeout, deadline - now)
        }
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        if let body = request.body { outgoing.body = .bytes(ByteBuffer(string: body)) }
        let seconds = Double(timeout) / 1e9
        do {
            let response = try await client.execute(outgoing, timeout: .nanoseconds(Int64(clamping: timeout)))
            let body = try await response.body.collect(upTo: maxResponseBytes)
            var headers: [String: String] = [:]
            for header in response.headers {
                let name = header.name.lowercased()
                headers[name] = headers[name].map { $0 + ", " + header.value } ?? header.value
            }
            return [
                .json([
                    "status": .int(Int64(response.status.code)),
                    "headers": .object(JSONObject(headers.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                    "body": .string(String(decoding: body.readableBytesView, as: UTF8.self)),
                ])
            ]
        } catch is NIOTooManyBytesError {
            return failure("too large: the response is over \(maxResponseBytes) bytes (plugins.http_max_response_bytes)")
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            return failure("timeout after \(String(format: "%.3g", seconds)) s")
        } catch {
            return failure("connection failed: \(error)")
        }
    }

    static func failure(_ reason: String) -> [LuaValue] {
        [.nilValue, .string(reason)]
    }
}
