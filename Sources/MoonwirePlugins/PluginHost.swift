import CoreMetrics
import Logging
import LuaRuntime
import MoonwireCore
import Synchronization

/// Runs the Lua plugins: loads them from the plugins directory, answers the hub's hooks through them in
/// priority order, and swaps versions atomically on reload.
///
/// ```swift
/// let host = PluginHost(options: PluginOptions(directory: "plugins"))
/// let hub = Hub(configuration: configuration, broker: broker, hooks: host)
/// host.attach(hub)
/// let report = host.reload(trigger: "startup")
/// ```
public final class PluginHost: HubHooks {
    public let options: PluginOptions
    let logger: Logger
    let store: any PluginKeyValueStore
    let timers: PluginTimers
    let metricsFactory: any MetricsFactory
    private let hubReference = Mutex<WeakHub>(WeakHub())
    private let current = Mutex(PluginSet())
    private let reloading = Mutex<Void>(())
    private let statisticsByName = Mutex<[String: PluginStatistics]>([:])
    private let failures = Mutex<[String: PluginFailure]>([:])
    /// What unloaded plugins handed over, in case they come back.
    private let savedStates = Mutex<[String: JSONValue]>([:])
    private let reloadCount = Atomic<Int>(0)
    /// Each plugin's settings: the configuration's `[plugins.NAME]` tables, then the API's changes.
    let currentSettings: Mutex<[String: JSONObject]>
    /// The settings the configuration file had when it was last read.
    let fileSettings: Mutex<[String: JSONObject]>
    /// Candidate versions running beside the live ones, by plugin name.
    let shadows = Mutex<[String: PluginShadow]>([:])
    /// Whether any plugin has a shadow (checked on the delivery path before taking the lock).
    let shadowsActive = Atomic<Bool>(false)
    /// One queue of `hub.publish` calls per plugin name: kept in order across the plugin's versions.
    private let publishQueues = Mutex<[String: PublishQueue]>([:])
    /// Versions rebuilt after a quarantine, by plugin name (a plugin that keeps getting stuck stays
    /// quarantined after `maxRebuilds`, until its file changes).
    let rebuildCounts = Mutex<[String: Int]>([:])
    /// Rebuilds of one plugin after quarantines before the hub stops rebuilding it.
    static let maxRebuilds = 3

    public init(
        options: PluginOptions, store: any PluginKeyValueStore = PluginStore(), metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance,
        logger: Logger = Logger(label: "moonwire.plugins"), clock: any HubClock = SystemClock()
    ) {
        self.options = options
        self.currentSettings = Mutex(options.settings)
        self.fileSettings = Mutex(options.settings)
        self.store = store
        self.metricsFactory = metricsFactory
        self.logger = logger
        self.timers = PluginTimers(clock: clock)
    }

    /// Whether the plugins have nothing left to do for now: no timer due on the host's clock or running,
    /// and no `hub.publish` waiting. Specs (`moonwire plugins test`) wait for it after each step.
    public var isSettled: Bool {
        !timers.anyDue(now: timers.clock.now()) && publishQueues.withLock { $0.values.allSatisfy { $0.pendingBytes == 0 } }
    }

    /// Stops the plugins' timers (called when the hub shuts down; hooks keep answering until then).
    public func stop() {
        timers.stopAll()
        let queues = publishQueues.withLock { queues in
            defer { queues.removeAll() }
            return Array(queues.values)
        }
        for queue in queues { queue.finish() }
    }

    /// Publishes after the current call, in the order the plugin asked, across its versions. Returns what
    /// `hub.publish` returns: `true` once queued; `false` and the reason when the event is dropped as one
    /// step too many of a publish chain. Throws when the plugin's queue is full or the event too large.
    func publishLater(_ event: Event, from publisher: PublisherInfo, plugin: String, on hub: Hub) throws(LuaCallError) -> [LuaValue] {
        let statistics = statistics(for: plugin)
        guard event.pluginHops <= options.maxPublishHops else {
            statistics.recordDroppedPublish(.publishLoop)
            let (log, suppressed) = statistics.shouldLog(.publishLoop)
            if log {
                logger.error(
                    "plugin publish dropped: publish loop",
                    metadata: [
                        "plugin": "\(plugin)", "room": "\(event.roomID ?? "")", "event_type": "\(event.type.rawValue)",
                        "hops": "\(event.pluginHops)", "limit": "\(options.maxPublishHops)", "not_logged_since_last": "\(suppressed)",
                    ])
            }
            return [.bool(false), .string("dropped: a chain of more than \(options.maxPublishHops) plugin publishes (plugins.max_publish_hops)")]
        }
        let roomBytes: Int = event.roomID?.utf8.count ?? 0
        let size: Int = JSONWriter.bytes(event.data).count + event.type.rawValue.utf8.count + roomBytes
        guard size <= hub.configuration.maxEventBytes else {
            throw LuaCallError("hub.publish: the event is \(size) bytes, over the hub's maximum of \(hub.configuration.maxEventBytes)")
        }
        let queue = publishQueues.withLock { queues -> PublishQueue in
            if let existing = queues[plugin] { return existing }
            let queue = PublishQueue(plugin: plugin, hub: hub, statistics: statistics)
            queues[plugin] = queue
            return queue
        }
        guard queue.enqueue(event, from: publisher, size: size, limit: options.publishQueueBytes) else {
            throw LuaCallError(
                "hub.publish: \(queue.pendingBytes) bytes of this plugin's events are waiting to be published, the most allowed"
                    + " (plugins.publish_queue_bytes): try again later")
        }
        return [.bool(true)]
    }

    /// Ends a plugin's publish queue once what is in it has gone out (the plugin is gone).
    func finishPublishing(plugin: String) {
        publishQueues.withLock { $0.removeValue(forKey: plugin) }?.finish()
    }

    deinit {
        timers.stopAll()
    }

    /// Connects the host to its hub (which holds the host as its hooks).
    public func attach(_ hub: Hub) {
        hubReference.withLock { $0.hub = hub }
    }

    var hub: Hub? { hubReference.withLock { $0.hub } }

    /// The plugins in force, in hook order.
    public var plugins: [Plugin] { current.withLock { $0.plugins } }

    var pluginSet: PluginSet { current.withLock { $0 } }

    /// The last load error of each plugin (by name, or by file for a plugin that never loaded).
    public var lastFailures: [String: PluginFailure] { failures.withLock { $0 } }

    /// Timers running for plugin `name` (every version).
    public func timerCount(of name: String) -> Int { timers.count(of: name) }

    /// How many reloads have run.
    public var reloads: Int { reloadCount.load(ordering: .relaxed) }

    func statistics(for name: String) -> PluginStatistics {
        statisticsByName.withLock { all in
            if let existing = all[name] { return existing }
            let created = PluginStatistics(plugin: name, factory: metricsFactory)
            all[name] = created
            return created
        }
    }

    func recordFailure(_ key: String, path: String, message: String) {
        failures.withLock { $0[key] = PluginFailure(path: path, message: message, at: .now()) }
        logger.error("plugin failed to load; the previous version (if any) keeps running", metadata: ["plugin": "\(key)", "path": "\(path)", "error": "\(message)"])
    }

    /// Drops errors of files that are gone and of plugins no longer loaded from an existing file.
    func forgetFailures(keeping names: Set<String>, paths: Set<String>) {
        failures.withLock { failures in
            failures = failures.filter { key, failure in paths.contains(failure.path) || names.contains(key) }
        }
    }

    func clearFailure(_ key: String) {
        _ = failures.withLock { $0.removeValue(forKey: key) }
    }

    func swapSet(_ update: (PluginSet) -> PluginSet) {
        current.withLock { $0 = update($0) }
    }

    /// Runs `body` alone among reloads and rebuilds; counted as a reload unless `countsAsReload` is false.
    func serialized<R>(countsAsReload: Bool = true, _ body: () -> R) -> R {
        reloading.withLock { _ in
            if countsAsReload { reloadCount.add(1, ordering: .relaxed) }
            return body()
        }
    }

    func takeSavedState(_ name: String) -> JSONValue? {
        savedStates.withLock { $0.removeValue(forKey: name) }
    }

    func keepSavedState(_ name: String, _ value: JSONValue) {
        savedStates.withLock { $0[name] = value }
    }
}

/// A plugin load that failed, as the API shows it.
public struct PluginFailure: Sendable, Equatable {
    public var path: String
    public var message: String
    public var at: Timestamp
}

struct WeakHub {
    weak var hub: Hub?
}
