import HTTPTypes
import Hummingbird
import MoonwireCore
import NIOCore
import Prometheus

/// `GET /metrics`: Prometheus text format (or the `/api/stats` JSON when the client asks for
/// `application/json`, as the seed's servers answered). `GET /health` for load balancers.
struct MetricsEndpoint: Sendable {
    let hub: Hub
    let registry: PrometheusCollectorRegistry
    let stats: StatsReport
    let apiKey: APIKeyCheck

    func register(on router: Router<MoonwireRequestContext>) {
        router.get("/metrics") { request, context -> Response in
            if let accept = request.headers[.accept], accept.contains("application/json") {
                return await respond { () throws(HubError) in
                    try apiKey.verify(request)
                    return HTTPResponses.json(await stats.json())
                }
            }
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("/health") { _, _ -> Response in
            if hub.isShuttingDown {
                return HTTPResponses.json(["status": "shutting_down"], status: .serviceUnavailable)
            }
            return HTTPResponses.json(["status": "ok"])
        }
    }
}
