import MoonwireCore
import Synchronization

/// The key-value store plugins reach as `hub.store`: one namespace per plugin, kept by the hub across
/// reloads. Values are JSON-like; a key may expire (`ttl` in seconds).
///
/// Calls are synchronous for the hooks that cannot wait: an implementation backed by a server may block
/// the calling thread briefly, never an event loop the server's own replies need. Hooks that may wait use
/// the `deadline` variants, which such a store implements without blocking.
public protocol PluginKeyValueStore: Sendable {
    /// The value of `key`, or `nil` when it is missing or expired.
    func get(_ plugin: String, _ key: String) throws -> JSONValue?
    /// Sets a value (`nil` or JSON null deletes the key); `ttl` in seconds makes it expire. Throws
    /// `PluginStoreError.full` when the plugin's namespace would pass its quota.
    func set(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double?) throws
    /// Adds `delta` (an integer or a finite float) to a number (absent counts as 0) and returns the new value;
    /// `ttl` applies when the key is new. Integers stay integers; a sum out of the 64-bit range is refused.
    func increment(_ plugin: String, _ key: String, by delta: JSONValue, ttl: Double?) throws -> JSONValue
    /// The plugin's live keys, sorted.
    func keys(_ plugin: String) throws -> [String]
    /// Drops expired entries, where the store has to do it itself.
    func purgeExpired()

    /// Whether calls wait for I/O (a store in a server): a hook that may wait then waits for them without
    /// holding its thread, through the `deadline` variants below (monotonic ns; 0: none).
    var waitsForIO: Bool { get }
    func get(_ plugin: String, _ key: String, deadline: UInt64) async throws -> JSONValue?
    func set(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double?, deadline: UInt64) async throws
    func increment(_ plugin: String, _ key: String, by delta: JSONValue, ttl: Double?, deadline: UInt64) async throws -> JSONValue
    func keys(_ plugin: String, deadline: UInt64) async throws -> [String]
}

/// A store in the hub's memory answers at once: its waiting variants are its plain ones.
extension PluginKeyValueStore {
    public var waitsForIO: Bool { false }

    public func get(_ plugin: String, _ key: String, deadline: UInt64) async throws -> JSONValue? {
        try get(plugin, key)
    }

    public func set(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double?, deadline: UInt64) async throws {
        try set(plugin, key, value, ttl: ttl)
    }

    public func increment(_ plugin: String, _ key: String, by delta: JSONValue, ttl: Double?, deadline: UInt64) async throws -> JSONValue {
        try increment(plugin, key, by: delta, ttl: ttl)
    }

    public func keys(_ plugin: String, deadline: UInt64) async throws -> [String] {
        try keys(plugin)
    }
}

extension PluginKeyValueStore {
    public func set(_ plugin: String, _ key: String, _ value: JSONValue?) throws {
        try set(plugin, key, value, ttl: nil)
    }

    public func increment(_ plugin: String, _ key: String, by delta: JSONValue) throws -> JSONValue {
        try increment(plugin, key, by: delta, ttl: nil)
    }
}

/// Why a store call was refused.
public enum PluginStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The plugin's namespace would hold more keys or bytes than its quota.
    case full(String)
    /// The result of `increment` has no representation (it overflows, or is not finite).
    case outOfRange(String)

    public var description: String {
        switch self {
        case .full(let message), .outOfRange(let message): message
        }
    }
}

/// How much one plugin may keep in the store.
public struct PluginStoreQuota: Sendable, Equatable {
    /// Most keys per plugin.
    public var maxKeys: Int
    /// Most bytes per plugin: each key's UTF-8 length plus its value's JSON length.
    public var maxBytes: Int

    public init(maxKeys: Int = 10_000, maxBytes: Int = 8 << 20) {
        self.maxKeys = maxKeys
        self.maxBytes = maxBytes
    }
}

/// The store in this process (one node; the Redis broker brings a shared one).
public final class PluginStore: PluginKeyValueStore {
    private struct Entry {
        var value: JSONValue
        var expires: UInt64?
        /// Bytes the entry counts against the quota.
        var size: Int
    }

    private struct Namespace {
        var entries: [String: Entry] = [:]
        var bytes = 0

        mutating func remove(_ key: String) {
            if let old = entries.removeValue(forKey: key) { bytes -= old.size }
        }

        mutating func dropExpired(now: UInt64) {
            for (key, entry) in entries where entry.expires.map({ $0 <= now }) ?? false { remove(key) }
        }
    }

    private let namespaces = Mutex<[String: Namespace]>([:])
    private let clock: any HubClock
    public let quota: PluginStoreQuota

    public init(quota: PluginStoreQuota = PluginStoreQuota(), clock: any HubClock = SystemClock()) {
        self.quota = quota
        self.clock = clock
    }

    public func get(_ plugin: String, _ key: String) -> JSONValue? {
        let now = clock.now()
        return namespaces.withLock { namespaces in
            guard let entry = namespaces[plugin]?.entries[key] else { return nil }
            if let expires = entry.expires, expires <= now {
                namespaces[plugin]?.remove(key)
                return nil
            }
            return entry.value
        }
    }

    /// Sets a value; `ttl` in seconds (at most ten years) makes it expire.
    public func set(_ plugin: String, _ key: String, _ value: JSONValue?, ttl: Double? = nil) throws(PluginStoreError) {
        let now = clock.now()
        guard let value, !value.isNull else {
            namespaces.withLock { $0[plugin]?.remove(key) }
            return
        }
        let entry = Entry(value: value, expires: Self.expiry(ttl, now: now), size: key.utf8.count + JSONWriter.bytes(value).count)
        try namespaces.withLock { namespaces throws(PluginStoreError) in
            try store(entry, key, in: &namespaces[plugin, default: Namespace()], now: now)
        }
    }

    /// Adds `delta` to a number (absent counts as 0) and returns the new value; `ttl` applies when the key is new.
    public func increment(_ plugin: String, _ key: String, by delta: JSONValue, ttl: Double? = nil) throws(PluginStoreError) -> JSONValue {
        let now = clock.now()
        return try namespaces.withLock { namespaces throws(PluginStoreError) -> JSONValue in
            var current = namespaces[plugin]?.entries[key]
            if let expires = current?.expires, expires <= now { current = nil }
            let next = try Self.sum(current?.value, delta)
            let expires = current?.expires ?? Self.expiry(ttl, now: now)
            let entry = Entry(value: next, expires: expires, size: key.utf8.count + JSONWriter.bytes(next).count)
            // Changed in place: a copy of the namespace would copy every key of it.
            try store(entry, key, in: &namespaces[plugin, default: Namespace()], now: now)
            return next
        }
    }

    /// `current + delta`: an integer while both are integers (a float delta with a whole value in range
    /// counts as one) and the sum fits in 64 bits, else a float; refused when it overflows or is not finite.
    static func sum(_ current: JSONValue?, _ delta: JSONValue) throws(PluginStoreError) -> JSONValue {
        guard let step = delta.doubleValue, step.isFinite else { throw .outOfRange("hub.store.incr: the increment must be a finite number") }
        let wholeStep: Int64? = delta.intValue ?? (step.rounded() == step && abs(step) < 9.2e18 ? Int64(step) : nil)
        switch (current, wholeStep) {
        case (.int(let value)?, let whole?):
            let (result, overflow) = value.addingReportingOverflow(whole)
            if overflow { throw .outOfRange("hub.store.incr: \(value) + \(whole) is out of the 64-bit integer range") }
            return .int(result)
        case (nil, let whole?):
            return .int(whole)
        default:
            let result: Double = (current?.doubleValue ?? 0) + step
            guard result.isFinite else { throw .outOfRange("hub.store.incr: the result is not a finite number") }
            return .double(result)
        }
    }

    private static func expiry(_ ttl: Double?, now: UInt64) -> UInt64? {
        guard let ttl else { return nil }
        // Callers check the range; clamp anyway so that no input can trap.
        let seconds: Double = ttl.isFinite ? min(max(0.0, ttl), 315_360_000.0) : 0.0
        return now &+ UInt64(seconds * 1e9)
    }

    private func store(_ entry: Entry, _ key: String, in namespace: inout Namespace, now: UInt64) throws(PluginStoreError) {
        func usageAfter() -> (keys: Int, bytes: Int) {
            let replaced: Int? = namespace.entries[key]?.size
            let keys: Int = replaced == nil ? namespace.entries.count + 1 : namespace.entries.count
            let bytes: Int = namespace.bytes - (replaced ?? 0) + entry.size
            return (keys, bytes)
        }
        var after = usageAfter()
        if after.keys > quota.maxKeys || after.bytes > quota.maxBytes {
            namespace.dropExpired(now: now)  // expired keys still count until dropped
            after = usageAfter()
        }
        guard after.keys <= quota.maxKeys else {
            throw .full("the plugin's store holds its maximum of \(quota.maxKeys) keys (plugins.store_max_keys)")
        }
        guard after.bytes <= quota.maxBytes else {
            throw .full("the plugin's store would hold \(after.bytes) bytes, over its quota of \(quota.maxBytes) (plugins.store_max_bytes)")
        }
        namespace.entries[key] = entry
        namespace.bytes = after.bytes
    }

    /// The plugin's live keys, sorted.
    public func keys(_ plugin: String) -> [String] {
        let now = clock.now()
        return namespaces.withLock { namespaces in
            (namespaces[plugin]?.entries ?? [:]).filter { $0.value.expires.map { $0 > now } ?? true }.keys.sorted()
        }
    }

    /// Keys and bytes a plugin's namespace holds (expired keys not yet dropped included).
    public func usage(_ plugin: String) -> (keys: Int, bytes: Int) {
        namespaces.withLock { namespaces in (namespaces[plugin]?.entries.count ?? 0, namespaces[plugin]?.bytes ?? 0) }
    }

    /// Drops expired entries.
    public func purgeExpired() {
        let now = clock.now()
        namespaces.withLock { namespaces in
            for plugin in namespaces.keys { namespaces[plugin]?.dropExpired(now: now) }
        }
    }
}
