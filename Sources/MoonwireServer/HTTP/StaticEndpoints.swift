import Foundation
import Hummingbird
import MoonwireCore

/// The landing page at `/`: HTML for browsers, a plain-text listing for everyone else.
struct StaticEndpoints: Sendable {
    let configuration: ServerConfiguration

    func register(on router: Router<MoonwireRequestContext>) {
        let page = ByteBuffer(string: LandingPage.html)
        router.get("/") { request, _ -> Response in
            var headers = HTTPFields()
            if Self.prefersHTML(request.headers[.accept]) {
                headers[.contentType] = "text/html; charset=utf-8"
                headers[.cacheControl] = "no-cache"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: page))
            }
            headers[.contentType] = "text/plain; charset=utf-8"
            let text = """
                Moonwire real-time hub

                WebSocket   ws://HOST:PORT/ws        (first frame: {"user_id": "..."})
                SSE         GET  /events?rooms=general
                Long-poll   GET  /poll?client_id=...&last_message_id=...
                Publish     POST /trigger, POST /message, POST /api/publish, POST /publish (clients)
                Client      GET /moonwire.js (browser client), GET /presence?room=..., GET /history?room=..., GET /whoami
                API         /api/rooms, /api/stats, /api/plugins, /metrics, /health

                Documentation: docs/protocol.md

                """
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    /// Browsers ask for `text/html` first; curl (`*/*`) and scripts get the plain-text listing.
    static func prefersHTML(_ accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.split(separator: ",").contains { range in
            let mediaType = range.split(separator: ";", omittingEmptySubsequences: false).first ?? ""
            return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "text/html"
        }
    }
}
