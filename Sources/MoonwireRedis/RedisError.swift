/// What can go wrong talking to Redis.
public enum RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No connection to Redis right now (it is down, or being reconnected).
    case notConnected
    /// The connection closed before the reply came.
    case connectionClosed
    /// Redis did not answer in time (the connection is dropped and made again).
    case timeout
    /// Redis answered with an error.
    case server(String)
    /// The bytes from Redis made no sense.
    case protocolError(String)
    /// A reply of an unexpected shape.
    case unexpectedReply(String)

    public var description: String {
        switch self {
        case .notConnected: return "not connected to Redis"
        case .connectionClosed: return "the connection to Redis closed"
        case .timeout: return "Redis did not answer in time"
        case .server(let message): return "Redis: \(message)"
        case .protocolError(let message): return "Redis protocol error: \(message)"
        case .unexpectedReply(let message): return "unexpected reply from Redis: \(message)"
        }
    }
}
