import Foundation
import HTTPTypes
import Hummingbird

/// Redirects `/examples/chat` to `/examples/chat/` when `chat` is a directory, so relative links in its
/// page work. (Hummingbird's FileMiddleware would redirect to `/chat/`, dropping the base path.)
struct DirectorySlashMiddleware<Context: RequestContext>: RouterMiddleware {
    let directory: String
    let urlBasePath: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path.hasPrefix(urlBasePath + "/"), !path.hasSuffix("/") {
            let relative = String(path.dropFirst(urlBasePath.count + 1))
            var isDirectory: ObjCBool = false
            if !relative.contains(".."), FileManager.default.fileExists(atPath: directory + "/" + relative, isDirectory: &isDirectory),
                isDirectory.boolValue
            {
                var headers = HTTPFields()
                headers[.location] = path + "/" + (request.uri.query.map { "?" + $0 } ?? "")
                return Response(status: .movedPermanently, headers: headers)
            }
        }
        return try await next(request, context)
    }
}
