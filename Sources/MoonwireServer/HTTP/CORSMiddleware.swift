import HTTPTypes
import Hummingbird

/// Answers CORS preflights and adds CORS headers for allowed origins; refuses requests from other origins
/// with `403 origin_not_allowed`. Requests without an `Origin` (curl, servers) pass untouched.
struct CORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: CORSPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else {
            return try await next(request, context)
        }
        if let refusal = policy.refusal(request.headers[values: .origin], host: request.head.authority) {
            return HTTPResponses.error(refusal)
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowMethods] = "GET, POST, PUT, DELETE, OPTIONS"
            headers[.accessControlAllowHeaders] = "Content-Type, Last-Event-ID, Authorization, X-API-Key"
            headers[.accessControlMaxAge] = "600"
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        for (name, value) in CORSPolicy.answerHeaders(origin: origin) {
            if let name = HTTPField.Name(name) { response.headers[name] = value }
        }
        return response
    }
}
