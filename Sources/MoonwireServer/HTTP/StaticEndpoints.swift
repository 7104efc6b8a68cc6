import Hummingbird
import MoonwireCore

/// The landing page at `/`, and the example pages under `/examples` when their directory exists.
struct StaticEndpoints: Sendable {
    let configuration: ServerConfiguration

    func register(on router: Router<MoonwireRequestContext>) {
        router.get("/") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            let text = """
                Moonwire real-time hub

                WebSocket   ws://HOST:PORT/ws        (first frame: {"user_id": "..."})
                SSE         GET  /events?rooms=general
                Long-poll   GET  /poll?client_id=...&last_message_id=...
                Publish     POST /trigger, POST /message, POST /api/publish, POST /publish (clients)
                Client      GET /moonwire.js (browser client), GET /presence?room=..., GET /whoami
                API         /api/rooms, /api/stats, /api/plugins, /metrics, /health

                Documentation: docs/protocol.md

                """
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
