import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /moonwire.js`: the browser client, an ES module. For work on the client, the environment variable
/// `MOONWIRE_CLIENT_JS=FILE` serves that file instead of the copy compiled in (read on every request).
struct ClientLibraryEndpoint: Sendable {
    func register(on router: Router<MoonwireRequestContext>) {
        let override = ProcessInfo.processInfo.environment["MOONWIRE_CLIENT_JS"]
        let compiled = ByteBuffer(string: MoonwireJS.source)
        let source: @Sendable () -> ByteBuffer = {
            override.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }.map { ByteBuffer(string: $0) } ?? compiled
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/javascript; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        let fields = headers
        router.get("/moonwire.js") { _, _ -> Response in
            Response(status: .ok, headers: fields, body: .init(byteBuffer: source()))
        }
        router.head("/moonwire.js") { _, _ -> Response in
            var head = fields
            head[.contentLength] = String(source().readableBytes)
            return Response(status: .ok, headers: head)
        }
    }
}
