import LuaRuntime

/// Why a plugin call failed, as counted in `/api/plugins` (`failures`) and `/metrics`
/// (`moonwire_plugin_failures_total{reason=...}`).
public enum PluginFailureReason: String, Sendable, CaseIterable, Hashable {
    /// The script raised an error (or called a `hub` function wrongly).
    case error
    /// The plugin's memory cap (`plugins.memory_limit`).
    case memory
    /// The CPU budget of one call (`plugins.cpu_budget`).
    case cpu
    /// The time limit of one call (`plugins.call_timeout`).
    case time
    /// The hook returned something it may not (a function, a cyclic table, NaN, a wrong type).
    case badReturn = "bad_return"
    /// The plugin's VM stayed busy with another call for longer than the call may wait.
    case busy
    /// The version was quarantined: a call of it got stuck past its deadline.
    case quarantined

    /// Whether one of the three limits stopped the call.
    public var isLimit: Bool { self == .memory || self == .cpu || self == .time }

    init(_ error: LuaError) {
        switch error.limit {
        case .memory: self = .memory
        case .cpu: self = .cpu
        case .time: self = .time
        case nil: self = .error
        }
    }
}
