import MoonwireCore
import MoonwirePlugins
import MoonwireRedis

/// `hub.store` shared by every node through Redis (the Redis broker's blocking client, which runs on an
/// event loop of its own): a call blocks the calling plugin hook for one round trip, at most two seconds.
/// Expiry is Redis's own. The data lives in Redis, not in the hub: a value may be at most the quota's
/// bytes, and Redis's own `maxmemory` bounds the total (the key-count quota applies to the in-process store).
final class RedisPluginStore: PluginKeyValueStore {
    private let client: RedisClient
    private let keys: RedisKeys
    private let quota: PluginStoreQuota

    init(client: RedisClient, keys: RedisKeys, quota: PluginStoreQuota) {
        self.client = client
        self.keys = keys
        self.quota = quota
    }

    func get(_ plugin: String, _ key: String) throws -> JSONValue? {
        let reply = try client.sendBlocking(["GET", .string(keys.store(plugin, key))])
        guard let bytes = reply.bytes else { return nil }
        return try? JSONParser().parse(bytes)
    }

    func set(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double?) throws {
        let name = keys.store(plugin, key)
        guard let value, !value.isNull else {
            try client.sendBlocking(["DEL", .string(name)])
            return
        }
        let bytes = JSONWriter.bytes(value)
        guard key.utf8.count + bytes.count <= quota.maxBytes else {
            throw PluginStoreError.full("the value is \(bytes.count) bytes, over the store quota of \(quota.maxBytes) (plugins.store_max_bytes)")
        }
        var command: [RedisArgument] = ["SET", .string(name), .bytes(bytes)]
        if let ttl {
            command += ["PX", .string(String(max(1, Int64((ttl * 1000).rounded()))))]
        }
        try client.sendBlocking(command)
    }

    func increment(_ plugin: String, _ key: String, by delta: JSONValue, ttl: Double?) throws -> JSONValue {
        let step = delta.doubleValue ?? 0
        let deltaText = delta.intValue.map { String($0) } ?? (step.rounded() == step && abs(step) < 9e15 ? String(Int64(step)) : String(step))
        let ttlText = ttl.map { String(max(1, Int64(($0 * 1000).rounded()))) } ?? "0"
        let reply = try client.runBlocking(
            RedisPlugins.increment, keys: [keys.store(plugin, key)], arguments: [.string(deltaText), .string(ttlText)])
        guard let bytes = reply.bytes, let value = try? JSONParser().parse(bytes) else {
            throw RedisError.unexpectedReply("hub.store.incr: \(reply)")
        }
        return value
    }

    func keys(_ plugin: String) throws -> [String] {
        let prefix = keys.storeKeyPrefix(plugin)
        var cursor = "0"
        var names: Set<String> = []
        repeat {
            let reply = try client.sendBlocking(["SCAN", .string(cursor), "MATCH", .string(keys.storePattern(plugin)), "COUNT", "1000"])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let batch = parts[1].array else {
                throw RedisError.unexpectedReply("SCAN")
            }
            for name in batch.compactMap(\.string) where name.hasPrefix(prefix) {
                names.insert(String(name.dropFirst(prefix.count)))
            }
            cursor = next
        } while cursor != "0"
        return names.sorted()
    }

    func purgeExpired() {}
}
