import HTTPTypes
import Hummingbird
import MoonwireCore

/// Gives every error the JSON shape `{"error": {"code", "message"}}`: unknown routes (404 `not_found`),
/// wrong methods, and anything a handler threw that is not already a JSON answer.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let code: HubError.Code
            switch error.status {
            case .notFound: code = .notFound
            case .methodNotAllowed: code = .notFound
            case .unauthorized: code = .unauthorized
            case .forbidden: code = .notAllowed
            case .contentTooLarge: code = .payloadTooLarge
            case .serviceUnavailable: code = .unavailable
            case .internalServerError: code = .internalError
            default: code = .badRequest
            }
            let message = error.body ?? (error.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            var response = HTTPResponses.error(HubError(code, message))
            response.status = error.status
            return response
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return HTTPResponses.error(HubError(.internalError, "internal error"))
        }
    }
}
