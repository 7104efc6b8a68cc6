import NIOCore
import Synchronization

/// A Lua script run with EVALSHA, loaded on first use (and again after Redis restarts or flushes its
/// script cache: a NOSCRIPT reply falls back to EVAL, which loads it).
public final class RedisScript: Sendable {
    public let name: String
    public let source: String
    private let sha = Mutex<String?>(nil)

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }

    /// Runs the script on `connection`.
    public func run(on connection: RedisConnection, keys: [String], arguments: [RedisArgument]) async throws -> RESPValue {
        let tail: [RedisArgument] = [.string(String(keys.count))] + keys.map { .string($0) } + arguments
        if let sha = sha.withLock({ $0 }) {
            let reply = try await connection.sendFuture([.string("EVALSHA"), .string(sha)] + tail).get()
            if case .error(let message) = reply {
                guard message.hasPrefix("NOSCRIPT") else { throw RedisError.server(message) }
            } else {
                return reply
            }
        }
        let loaded = try await connection.send(["SCRIPT", "LOAD", .string(source)])
        guard let digest = loaded.string else { throw RedisError.unexpectedReply("SCRIPT LOAD of \(name)") }
        sha.withLock { $0 = digest }
        return try await connection.send([.string("EVALSHA"), .string(digest)] + tail)
    }

    /// Runs the script on `connection` without a task: every step on the connection's event loop, for a
    /// caller that blocks its thread until the reply (a task could need that very thread to run).
    public func runFuture(on connection: RedisConnection, keys: [String], arguments: [RedisArgument]) -> EventLoopFuture<RESPValue> {
        let tail: [RedisArgument] = [.string(String(keys.count))] + keys.map { .string($0) } + arguments
        let load: @Sendable () -> EventLoopFuture<RESPValue> = {
            connection.sendFuture(["SCRIPT", "LOAD", .string(self.source)])
                .flatMapThrowing { loaded -> String in
                    guard let digest = loaded.string else { throw RedisError.unexpectedReply("SCRIPT LOAD of \(self.name)") }
                    self.sha.withLock { $0 = digest }
                    return digest
                }
                .flatMap { digest in connection.sendFuture([.string("EVALSHA"), .string(digest)] + tail) }
        }
        guard let sha = sha.withLock({ $0 }) else { return load() }
        return connection.sendFuture([.string("EVALSHA"), .string(sha)] + tail).flatMap { reply in
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") { return load() }
            return connection.eventLoop.makeSucceededFuture(reply)
        }
    }
}
