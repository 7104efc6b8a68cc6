import MoonwireCore
import Synchronization

/// The key-value store plugins reach as `hub.store`: one namespace per plugin, kept by the hub across
/// reloads. Values are JSON-like; a key may expire (`ttl` in seconds).
///
/// Calls are synchronous (plugin hooks are): an implementation backed by a server may block the calling
/// thread briefly, never an event loop the server's own replies need.
public protocol PluginKeyValueStore: Sendable {
    /// The value of `key`, or `nil` when it is missing or expired.
    func get(_ plugin: String, _ key: String) throws -> JSONValue?
    /// Sets a value (`nil` or JSON null deletes the key); `ttl` in seconds makes it expire.
    func set(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double?) throws
    /// Adds `delta` to a number (absent counts as 0) and returns the new value; `ttl` applies when the key is new.
    func increment(_ plugin: String, _ key: String, by delta: Double, ttl: Double?) throws -> JSONValue
    /// The plugin's live keys, sorted.
    func keys(_ plugin: String) throws -> [String]
    /// Drops expired entries, where the store has to do it itself.
    func purgeExpired()
}

extension PluginKeyValueStore {
    public func set(_ plugin: String, _ key: String, _ value: JSONValue?) throws {
        try set(plugin, key, value, ttl: nil)
    }

    public func increment(_ plugin: String, _ key: String, by delta: Double) throws -> JSONValue {
        try increment(plugin, key, by: delta, ttl: nil)
    }
}

/// The store in this process (one node; the Redis broker brings a shared one).
public final class PluginStore: PluginKeyValueStore {
    private struct Entry {
        var value: JSONValue
        var expires: UInt64?
    }

    private let namespaces = Mutex<[String: [String: Entry]]>([:])

    public init() {}

    public func get(_ plugin: String, _ key: String) -> JSONValue? {
        get(plugin, key, now: MonotonicClock.nanoseconds())
    }

    public func get(_ plugin: String, _ key: String, now: UInt64) -> JSONValue? {
        namespaces.withLock { namespaces in
            guard let entry = namespaces[plugin]?[key] else { return nil }
            if let expires = entry.expires, expires <= now {
                namespaces[plugin]?[key] = nil
                return nil
            }
            return entry.value
        }
    }

    /// Sets a value; `ttl` in seconds makes it expire.
    public func set(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double? = nil) {
        let expires = ttl.map { MonotonicClock.nanoseconds() + UInt64(max(0, $0) * 1e9) }
        namespaces.withLock { namespaces in
            if let value, !value.isNull {
                namespaces[plugin, default: [:]][key] = Entry(value: value, expires: expires)
            } else {
                namespaces[plugin]?[key] = nil
            }
        }
    }

    /// Adds `delta` to a number (absent counts as 0) and returns the new value; `ttl` applies when the key is new.
    public func increment(_ plugin: String, _ key: String, by delta: Double, ttl: Double? = nil) -> JSONValue {
        let now = MonotonicClock.nanoseconds()
        return namespaces.withLock { namespaces in
            var entry = namespaces[plugin]?[key]
            if let expires = entry?.expires, expires <= now { entry = nil }
            let current = entry?.value
            let next: JSONValue
            if case .int(let i)? = current, delta.rounded() == delta {
                next = .int(i + Int64(delta))
            } else if current == nil, delta.rounded() == delta {
                next = .int(Int64(delta))
            } else {
                next = .double((current?.doubleValue ?? 0) + delta)
            }
            let expires = entry?.expires ?? ttl.map { now + UInt64(max(0, $0) * 1e9) }
            namespaces[plugin, default: [:]][key] = Entry(value: next, expires: expires)
            return next
        }
    }

    /// The plugin's live keys, sorted.
    public func keys(_ plugin: String) -> [String] {
        let now = MonotonicClock.nanoseconds()
        return namespaces.withLock { namespaces in
            (namespaces[plugin] ?? [:]).filter { $0.value.expires.map { $0 > now } ?? true }.keys.sorted()
        }
    }

    /// Drops expired entries.
    public func purgeExpired() {
        let now = MonotonicClock.nanoseconds()
        namespaces.withLock { namespaces in
            for plugin in namespaces.keys {
                namespaces[plugin] = namespaces[plugin]?.filter { $0.value.expires.map { $0 > now } ?? true }
            }
        }
    }
}
