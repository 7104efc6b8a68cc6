import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /moonwire.js`: the browser client, an ES module.
struct ClientLibraryEndpoint: Sendable {
    func register(on router: Router<MoonwireRequestContext>) {
        let body = ByteBuffer(string: MoonwireJS.source)
        var headers = HTTPFields()
        headers[.contentType] = "text/javascript; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        let fields = headers
        router.get("/moonwire.js") { _, _ -> Response in
            Response(status: .ok, headers: fields, body: .init(byteBuffer: body))
        }
        router.head("/moonwire.js") { _, _ -> Response in
            var head = fields
            head[.contentLength] = String(body.readableBytes)
            return Response(status: .ok, headers: head)
        }
    }
}
