import MoonwireCore
import MoonwireRedis

/// The broker `broker.url` names.
public enum BrokerChoice: Sendable, Equatable {
    /// History in memory, this node only.
    case memory
    /// History in memory and in a SQLite file, this node only.
    case sqlite(path: String)
    /// History, fan-out and presence in Redis, shared by every node using it.
    case redis(RedisEndpoint)

    /// Reads `configuration.brokerURL`.
    public init(_ configuration: ServerConfiguration) throws(ConfigurationError) {
        let url = configuration.brokerURL.trimming(" ")
        if url.isEmpty || url == "memory" {
            self = .memory
        } else if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw ConfigurationError("broker.url: \"sqlite:\" needs a file path, as in \"sqlite:/var/lib/moonwire/history.db\"") }
            self = .sqlite(path: path)
        } else if url.hasPrefix("redis://") {
            guard let endpoint = RedisEndpoint(url: url) else {
                throw ConfigurationError("broker.url: '\(url)' is not a Redis URL like redis://127.0.0.1:6379/0")
            }
            self = .redis(endpoint)
        } else {
            throw ConfigurationError("broker.url: '\(url)' is not \"memory\", \"sqlite:PATH\" or \"redis://HOST:PORT[/DB]\"")
        }
        if case .redis = self {
            if configuration.redisKeyPrefix.isEmpty || configuration.redisKeyPrefix.contains(where: { $0 == " " || $0 == "\n" }) {
                throw ConfigurationError("broker.redis_prefix must be a non-empty name without spaces")
            }
        }
    }

    /// Short name for logs.
    public var kind: String {
        switch self {
        case .memory: return "memory"
        case .sqlite: return "sqlite"
        case .redis: return "redis"
        }
    }
}
