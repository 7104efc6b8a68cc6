import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /moonwire.js`: the browser client, an ES module.
struct ClientLibraryEndpoint: Sendable {
    func register(on router: Router<MoonwireRequestContext>) {
        let body = ByteBuffer(string: MoonwireJS.source)
        router.get("/moonwire.js") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/javascript; charset=utf-8"
            headers[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
    }
}
