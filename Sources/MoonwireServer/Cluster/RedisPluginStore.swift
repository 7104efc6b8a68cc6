import MoonwireCore
import MoonwirePlugins
import MoonwireRedis

/// `hub.store` shared by every node through Redis. A hook that may wait (all but `on_deliver`,
/// `on_load` and `on_unload`) waits for the reply without holding a thread; those three block their
/// thread for the round trip (the Redis broker's blocking client, on an event loop of its own). Either way one call
/// takes at most two seconds. Expiry is Redis's own. The data lives in Redis, not in the hub: a value may
/// be at most the quota's bytes, and Redis's own `maxmemory` bounds the total (the key-count quota
/// applies to the in-process store).
final class RedisPluginStore: PluginKeyValueStore {
    private let client: RedisClient
    private let keys: RedisKeys
    private let quota: PluginStoreQuota
    /// The longest one store call waits for Redis.
    static let timeout: Duration = .seconds(2)

    init(client: RedisClient, keys: RedisKeys, quota: PluginStoreQuota) {
        self.client = client
        self.keys = keys
        self.quota = quota
    }

    var waitsForIO: Bool { true }

    // MARK: Blocking

    func get(_ plugin: String, _ key: String) throws -> JSONValue? {
        Self.value(try client.sendBlocking(getCommand(plugin, key)))
    }

    func set(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double?) throws {
        try client.sendBlocking(try setCommand(plugin, key, value, ttl: ttl))
    }

    func increment(_ plugin: String, _ key: String, by delta: JSONValue, ttl: Double?) throws -> JSONValue {
        let arguments = incrementArguments(delta, ttl: ttl)
        return try Self.number(try client.runBlocking(RedisPlugins.increment, keys: [keys.store(plugin, key)], arguments: arguments))
    }

    func keys(_ plugin: String) throws -> [String] {
        var scan = KeyScan(keys: keys, plugin: plugin)
        while let command = scan.nextCommand { try scan.read(try client.sendBlocking(command)) }
        return scan.names.sorted()
    }

    // MARK: Waiting

    func get(_ plugin: String, _ key: String, deadline: UInt64) async throws -> JSONValue? {
        Self.value(try await bounded(deadline) { [client] in try await client.send(self.getCommand(plugin, key)) })
    }

    func set(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double?, deadline: UInt64) async throws {
        let command = try setCommand(plugin, key, value, ttl: ttl)
        _ = try await bounded(deadline) { [client] in try await client.send(command) }
    }

    func increment(_ plugin: String, _ key: String, by delta: JSONValue, ttl: Double?, deadline: UInt64) async throws -> JSONValue {
        let arguments = incrementArguments(delta, ttl: ttl)
        let name = keys.store(plugin, key)
        return try Self.number(try await bounded(deadline) { [client] in try await client.run(RedisPlugins.increment, keys: [name], arguments: arguments) })
    }

    func keys(_ plugin: String, deadline: UInt64) async throws -> [String] {
        var scan = KeyScan(keys: keys, plugin: plugin)
        while let command = scan.nextCommand {
            try scan.read(try await bounded(deadline) { [client] in try await client.send(command) })
        }
        return scan.names.sorted()
    }

    func purgeExpired() {}

    // MARK: Commands and replies

    private func getCommand(_ plugin: String, _ key: String) -> [RedisArgument] {
        ["GET", .string(keys.store(plugin, key))]
    }

    private func setCommand(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double?) throws -> [RedisArgument] {
        let name = keys.store(plugin, key)
        guard let value, !value.isNull else { return ["DEL", .string(name)] }
        let bytes = JSONWriter.bytes(value)
        guard key.utf8.count + bytes.count <= quota.maxBytes else {
            throw PluginStoreError.full("the value is \(bytes.count) bytes, over the store quota of \(quota.maxBytes) (plugins.store_max_bytes)")
        }
        var command: [RedisArgument] = ["SET", .string(name), .bytes(bytes)]
        if let ttl {
            command += ["PX", .string(String(max(1, Int64((ttl * 1000).rounded()))))]
        }
        return command
    }

    private func incrementArguments(_ delta: JSONValue, ttl: Double?) -> [RedisArgument] {
        let step = delta.doubleValue ?? 0
        let deltaText = delta.intValue.map { String($0) } ?? (step.rounded() == step && abs(step) < 9e15 ? String(Int64(step)) : String(step))
        let ttlText = ttl.map { String(max(1, Int64(($0 * 1000).rounded()))) } ?? "0"
        return [.string(deltaText), .string(ttlText)]
    }

    private static func value(_ reply: RESPValue) -> JSONValue? {
        guard let bytes = reply.bytes else { return nil }
        return try? JSONParser().parse(bytes)
    }

    private static func number(_ reply: RESPValue) throws -> JSONValue {
        guard let bytes = reply.bytes, let value = try? JSONParser().parse(bytes) else {
            throw RedisError.unexpectedReply("hub.store.incr: \(reply)")
        }
        return value
    }

    /// Runs `body`, failing with `RedisError.timeout` past the store's timeout or `deadline` (monotonic ns;
    /// 0: none), whichever comes first; an error reply fails too.
    private func bounded(_ deadline: UInt64, _ body: @escaping @Sendable () async throws -> RESPValue) async throws -> RESPValue {
        var limit = Self.timeout.nanoseconds
        if deadline > 0 {
            let now = MonotonicClock.nanoseconds()
            guard deadline > now else { throw RedisError.timeout }
            limit = min(limit, deadline - now)
        }
        let wait = limit
        let reply = try await withThrowingTaskGroup(of: RESPValue?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(Int64(clamping: wait)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let reply = first else { throw RedisError.timeout }
            return reply
        }
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }
}

/// A `SCAN` over a plugin's keys, one batch per command.
private struct KeyScan {
    let keys: RedisKeys
    let plugin: String
    private var cursor = "0"
    private var done = false
    private(set) var names: Set<String> = []

    init(keys: RedisKeys, plugin: String) {
        self.keys = keys
        self.plugin = plugin
    }

    var nextCommand: [RedisArgument]? {
        done ? nil : ["SCAN", .string(cursor), "MATCH", .string(keys.storePattern(plugin)), "COUNT", "1000"]
    }

    mutating func read(_ reply: RESPValue) throws {
        guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let batch = parts[1].array else {
            throw RedisError.unexpectedReply("SCAN")
        }
        let prefix = keys.storeKeyPrefix(plugin)
        for name in batch.compactMap(\.string) where name.hasPrefix(prefix) {
            names.insert(String(name.dropFirst(prefix.count)))
        }
        cursor = next
        done = next == "0"
    }
}
