import Dispatch
import NIOCore
import Synchronization

extension RedisClient {
    /// Sends a command and blocks the calling thread until the reply (at most `timeout`), for synchronous
    /// callers such as plugin hooks. The client must run on an event loop of its own: never call this from
    /// that loop (it would wait on itself).
    @discardableResult
    public func sendBlocking(_ arguments: [RedisArgument], timeout: Duration = .seconds(2)) throws -> RESPValue {
        let connection = try requireConnection()
        precondition(!connection.eventLoop.inEventLoop, "sendBlocking called on the Redis client's own event loop")
        return try Self.wait(for: connection.sendFuture(arguments), timeout: timeout)
    }

    /// Runs a script and blocks until its reply (see `sendBlocking`).
    @discardableResult
    public func runBlocking(_ script: RedisScript, keys: [String], arguments: [RedisArgument], timeout: Duration = .seconds(2)) throws
        -> RESPValue
    {
        let connection = try requireConnection()
        precondition(!connection.eventLoop.inEventLoop, "runBlocking called on the Redis client's own event loop")
        return try Self.wait(for: script.runFuture(on: connection, keys: keys, arguments: arguments), timeout: timeout)
    }

    private static func wait(for future: EventLoopFuture<RESPValue>, timeout: Duration) throws -> RESPValue {
        let semaphore = DispatchSemaphore(value: 0)
        let result = Mutex<Result<RESPValue, any Error>?>(nil)
        future.whenComplete { outcome in
            result.withLock { $0 = outcome }
            semaphore.signal()
        }
        let nanoseconds = Int(clamping: timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        guard semaphore.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success else { throw RedisError.timeout }
        let value = try result.withLock { $0 }!.get()
        if case .error(let message) = value { throw RedisError.server(message) }
        return value
    }
}
