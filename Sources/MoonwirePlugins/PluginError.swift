/// Why a plugin could not be loaded.
public enum PluginError: Error, Sendable, CustomStringConvertible {
    /// The source does not compile or its top level failed (message names file and line).
    case load(String, String)
    /// The plugin table is malformed.
    case invalid(String, String)
    /// The plugin's settings do not match its schema.
    case config(String, String, String)
    /// `on_load` failed.
    case onLoad(String, String)

    public var description: String {
        switch self {
        case .load(let plugin, let message): "plugin '\(plugin)': \(message)"
        case .invalid(let plugin, let message): "plugin '\(plugin)': \(message)"
        case .config(let plugin, let key, let problem): "plugin '\(plugin)': config key '\(key)' \(problem)"
        case .onLoad(let plugin, let message): "plugin '\(plugin)': on_load failed: \(message)"
        }
    }
}
