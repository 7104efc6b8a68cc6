import NIOCore
import NIOPosix

/// One connection to Redis: pipelined commands, or (with `onPush`) a pub/sub connection whose every
/// reply goes to `onPush` on the connection's event loop, in order.
public final class RedisConnection: Sendable {
    let channel: any Channel

    /// The event loop the connection runs on.
    public var eventLoop: any EventLoop { channel.eventLoop }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Connects, authenticates and selects the database.
    public static func connect(
        to endpoint: RedisEndpoint, on group: any EventLoopGroup, connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(5), onPush: (@Sendable (RESPValue) -> Void)? = nil
    ) async throws -> RedisConnection {
        let timeout = TimeAmount(commandTimeout)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RedisHandler(timeout: timeout, onPush: onPush))
                }
            }
        let channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        let connection = RedisConnection(channel: channel)
        // The pub/sub connection's replies go to `onPush`: its set-up commands are sent before it has any.
        do {
            if onPush == nil {
                if let password = endpoint.password {
                    _ = try await connection.send(["AUTH", .string(password)])
                }
                if endpoint.database != 0 {
                    _ = try await connection.send(["SELECT", .string(String(endpoint.database))])
                }
            } else if let password = endpoint.password {
                connection.sendWithoutReply([["AUTH", .string(password)]])
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Sends a command; a Redis error reply is thrown as `RedisError.server`.
    @discardableResult
    public func send(_ arguments: [RedisArgument]) async throws -> RESPValue {
        let value = try await sendFuture(arguments).get()
        if case .error(let message) = value { throw RedisError.server(message) }
        return value
    }

    /// Sends a command; the reply as it comes (an error reply too).
    public func sendFuture(_ arguments: [RedisArgument]) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        channel.writeAndFlush(RedisRequest(arguments: arguments, promise: promise)).whenFailure { error in
            promise.fail(error)
        }
        return promise.futureResult
    }

    /// Sends several commands in one write; their replies in order (error replies included, not thrown).
    public func pipeline(_ commands: [[RedisArgument]]) async throws -> [RESPValue] {
        var futures: [EventLoopFuture<RESPValue>] = []
        futures.reserveCapacity(commands.count)
        for command in commands {
            let promise = channel.eventLoop.makePromise(of: RESPValue.self)
            channel.write(RedisRequest(arguments: command, promise: promise)).whenFailure { promise.fail($0) }
            futures.append(promise.futureResult)
        }
        channel.flush()
        var replies: [RESPValue] = []
        replies.reserveCapacity(futures.count)
        for future in futures { replies.append(try await future.get()) }
        return replies
    }

    /// Writes commands whose replies come as pushes (SUBSCRIBE, UNSUBSCRIBE on a pub/sub connection).
    public func sendWithoutReply(_ commands: [[RedisArgument]]) {
        guard !commands.isEmpty else { return }
        for command in commands {
            channel.write(RedisRequest(arguments: command, promise: nil), promise: nil)
        }
        channel.flush()
    }

    /// Completes when the connection has closed.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    public var isActive: Bool { channel.isActive }

    /// Closes the connection; pending commands fail.
    public func close() {
        channel.close(promise: nil)
    }
}

extension TimeAmount {
    /// The same span as a `Duration`.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
