/// Why the hub dropped an event a plugin published with `hub.publish` (counted in `/api/plugins` and
/// `moonwire_plugin_publishes_dropped_total{reason=...}`).
public enum PublishDropReason: String, Sendable, CaseIterable, Hashable {
    /// The event was one more step of a chain of plugin publishes longer than `plugins.max_publish_hops`
    /// (two plugins republishing each other's events, a type whose handler republishes its own type).
    case publishLoop = "publish_loop"
    /// The hub refused the event when its turn came (unknown room name, too large, broker unavailable...).
    case refused
}
