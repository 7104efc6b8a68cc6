import Foundation
import HTTPTypes
import Hummingbird
import MoonwireCore
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `GET /examples/…` (and `HEAD`): the files of `server.examples_dir`.
///
/// A path with a control character (`%00`, …) or a `..` segment is `400 bad_request`; a path that names
/// nothing, or whose real location (symlinks resolved) is outside the directory, `404 not_found`. A
/// directory without its trailing slash is redirected (`301`); with it, its `index.html` is served. The
/// content type comes from the name of the file actually served. A file is read whole (at most
/// `maxFileBytes`) before it is sent, so no descriptor stays open while a slow client reads.
struct StaticFileEndpoint: Sendable {
    /// The largest file served.
    static let maxFileBytes = 1 << 20
    static let basePath = "/examples"
    let directory: String

    func register(on router: Router<MoonwireRequestContext>) {
        for path in [Self.basePath, Self.basePath + "/**"] {
            router.get(RouterPath(path)) { request, _ in await respond { () throws(HubError) in try await serve(request) } }
            router.head(RouterPath(path)) { request, _ in await respond { () throws(HubError) in try await serve(request) } }
        }
    }

    /// What a path under the directory turned out to be.
    private enum Found: Sendable {
        case file(contents: ByteBuffer, realPath: String, modified: Int, size: Int)
        case directory
        case missing
        case tooLarge(Int)
    }

    private func serve(_ request: Request) async throws(HubError) -> Response {
        let path = request.uri.path
        guard let relative = String(path.dropFirst(Self.basePath.count)).percentDecoded else {
            throw HubError(.badRequest, "the path is not valid percent-encoded UTF-8")
        }
        if relative.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw HubError(.badRequest, "the path holds a control character")
        }
        let segments = relative.split(separator: "/").map(String.init)
        if segments.contains("..") { throw HubError(.badRequest, "the path holds a '..' segment") }
        let wantsDirectory = relative.isEmpty || relative.hasSuffix("/")

        let directory = self.directory
        let found: Found
        do {
            found = try await NIOThreadPool.singleton.runIfActive {
                let target = Self.find(segments, in: directory)
                if case .directory = target, wantsDirectory { return Self.find(segments + ["index.html"], in: directory) }
                return target
            }
        } catch {
            throw HubError(.internalError, "cannot read \(path)")
        }
        switch found {
        case .missing:
            throw HubError(.notFound, "no such file: \(path)")
        case .tooLarge(let size):
            throw HubError(.notFound, "\(path) is \(size) bytes, over the \(Self.maxFileBytes) bytes served from server.examples_dir")
        case .directory:
            var headers = HTTPFields()
            headers[.location] = path + "/" + (request.uri.query.map { "?" + $0 } ?? "")
            return Response(status: .movedPermanently, headers: headers)
        case .file(let contents, let realPath, let modified, let size):
            var headers = HTTPFields()
            let fileExtension = realPath.split(separator: "/").last?.split(separator: ".", omittingEmptySubsequences: false).dropFirst().last
            headers[.contentType] = fileExtension.flatMap { MediaType.getMediaType(forExtension: String($0)) }?.description
                ?? "application/octet-stream"
            let eTag = "W/\"\(String(modified, radix: 16))-\(String(size, radix: 16))\""
            headers[.eTag] = eTag
            headers[.cacheControl] = "no-cache"
            if request.headers[values: .ifNoneMatch].contains(eTag) {
                return Response(status: .notModified, headers: headers)
            }
            if request.method == .head {
                headers[.contentLength] = String(size)
                return Response(status: .ok, headers: headers)
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: contents))
        }
    }

    /// Looks `segments` up under `directory` (blocking: runs on the thread pool).
    private static func find(_ segments: [String], in directory: String) -> Found {
        guard let root = realPath(directory), let real = realPath(([directory] + segments).joined(separator: "/")),
            real == root || real.hasPrefix(root == "/" ? "/" : root + "/")
        else { return .missing }
        var info = stat()
        guard stat(real, &info) == 0 else { return .missing }
        if (info.st_mode & S_IFMT) == S_IFDIR { return .directory }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .missing }
        guard info.st_size <= maxFileBytes else { return .tooLarge(Int(info.st_size)) }
        guard let handle = FileHandle(forReadingAtPath: real), let data = try? handle.read(upToCount: maxFileBytes + 1) else {
            return .missing
        }
        try? handle.close()
        guard data.count <= maxFileBytes else { return .tooLarge(data.count) }
        #if canImport(Darwin)
        let modified = Int(info.st_mtimespec.tv_sec)
        #else
        let modified = Int(info.st_mtim.tv_sec)
        #endif
        return .file(contents: ByteBuffer(bytes: data), realPath: real, modified: modified, size: data.count)
    }

    /// The absolute path with every symlink resolved, `nil` if nothing is there.
    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
