import Logging
import NIOCore
import Synchronization

/// A connection to Redis kept up: it connects in the background, reconnects with backoff (50 ms doubling
/// to 2 s, with jitter) whenever the connection is lost, and fails commands at once while there is none,
/// so callers can tell their own clients instead of waiting.
public final class RedisClient: Sendable {
    public struct Options: Sendable {
        public var endpoint: RedisEndpoint
        /// Shown in logs (`commands`, `subscriber`, `store`).
        public var name: String
        public var connectTimeout: Duration = .seconds(2)
        /// A command unanswered this long drops the connection (and fails every pending command).
        public var commandTimeout: Duration = .seconds(5)
        public var minimumBackoff: Duration = .milliseconds(50)
        public var maximumBackoff: Duration = .seconds(2)

        public init(endpoint: RedisEndpoint, name: String) {
            self.endpoint = endpoint
            self.name = name
        }
    }

    private struct State {
        var connection: RedisConnection?
        var stopped = false
        var task: Task<Void, Never>?
        var connects = 0
        var lastError: String?
    }

    public let options: Options
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onPush: (@Sendable (RESPValue) -> Void)?
    private let onConnect: (@Sendable (RedisConnection) async throws -> Void)?
    private let onStateChange: (@Sendable (Bool) -> Void)?
    private let state = Mutex(State())

    /// - Parameters:
    ///   - onPush: makes this a pub/sub client: every reply goes there, on the connection's event loop.
    ///   - onConnect: runs on every new connection before it is used (re-subscribing, say); a failure drops it.
    ///   - onStateChange: told `true` when connected, `false` when the connection is lost.
    public init(
        options: Options, group: any EventLoopGroup, logger: Logger,
        onPush: (@Sendable (RESPValue) -> Void)? = nil,
        onConnect: (@Sendable (RedisConnection) async throws -> Void)? = nil,
        onStateChange: (@Sendable (Bool) -> Void)? = nil
    ) {
        self.options = options
        self.group = group
        self.logger = logger
        self.onPush = onPush
        self.onConnect = onConnect
        self.onStateChange = onStateChange
    }

    /// Starts connecting (in the background).
    public func start() {
        state.withLock { state in
            guard state.task == nil, !state.stopped else { return }
            state.task = Task { [self] in await self.run() }
        }
    }

    /// Closes the connection and stops reconnecting.
    public func stop() async {
        let (task, connection) = state.withLock { state -> (Task<Void, Never>?, RedisConnection?) in
            state.stopped = true
            return (state.task, state.connection)
        }
        connection?.close()
        task?.cancel()
        await task?.value
    }

    /// The connection, while there is one.
    public var connection: RedisConnection? {
        state.withLock { $0.connection }
    }

    public var isConnected: Bool { connection?.isActive ?? false }

    /// How many times a connection was made (the first one included).
    public var connects: Int { state.withLock { $0.connects } }

    /// Why the last attempt or connection failed, if one did.
    public var lastError: String? { state.withLock { $0.lastError } }

    /// The connection, or `RedisError.notConnected`.
    public func requireConnection() throws -> RedisConnection {
        guard let connection, connection.isActive else { throw RedisError.notConnected }
        return connection
    }

    /// Sends a command over the current connection; fails at once without one.
    @discardableResult
    public func send(_ arguments: [RedisArgument]) async throws -> RESPValue {
        try await requireConnection().send(arguments)
    }

    /// Runs a script over the current connection; fails at once without one.
    public func run(_ script: RedisScript, keys: [String], arguments: [RedisArgument]) async throws -> RESPValue {
        try await script.run(on: try requireConnection(), keys: keys, arguments: arguments)
    }

    /// Waits until connected, for at most `timeout`; returns whether it is.
    public func waitUntilConnected(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !isConnected {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func run() async {
        var delay = options.minimumBackoff
        var failures = 0
        var metadata: Logger.Metadata = ["redis": "\(options.endpoint)", "connection": "\(options.name)"]
        while !stopped && !Task.isCancelled {
            var connected = false
            do {
                let connection = try await RedisConnection.connect(
                    to: options.endpoint, on: group, connectTimeout: options.connectTimeout,
                    commandTimeout: options.commandTimeout, onPush: onPush)
                do {
                    try await onConnect?(connection)
                } catch {
                    connection.close()
                    throw error
                }
                let first = state.withLock { state -> Bool in
                    state.connection = connection
                    state.connects += 1
                    state.lastError = nil
                    return state.connects == 1
                }
                if stopped { connection.close() }
                connected = true
                if first {
                    logger.debug("connected to Redis", metadata: metadata)
                } else {
                    logger.notice("reconnected to Redis", metadata: metadata)
                }
                onStateChange?(true)
                delay = options.minimumBackoff
                failures = 0
                try? await connection.closeFuture.get()
                state.withLock { state in
                    if state.connection === connection { state.connection = nil }
                }
                onStateChange?(false)
                if !stopped {
                    state.withLock { $0.lastError = "connection lost" }
                    logger.warning("lost the connection to Redis; reconnecting", metadata: metadata)
                }
            } catch {
                failures += 1
                state.withLock { $0.lastError = "\(error)" }
                if failures == 1 || failures % 50 == 0 {
                    metadata["error"] = "\(error)"
                    logger.warning("cannot reach Redis; retrying", metadata: metadata)
                    metadata["error"] = nil
                }
            }
            if stopped { break }
            if connected { continue }  // Reconnect at once after a lost connection; back off between failures.
            let jitter = Double.random(in: 0.8...1.2)
            try? await Task.sleep(for: delay * jitter)
            delay = min(delay * 2, options.maximumBackoff)
        }
    }
}
