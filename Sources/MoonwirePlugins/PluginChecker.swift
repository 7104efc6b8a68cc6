import MoonwireCore

/// What `moonwire plugins check` does: load a plugin in a host of its own and describe it.
public enum PluginChecker {
    /// Loads the plugin (compile, table, settings) without running it; returns a description or the error.
    public static func check(_ source: PluginSource, settings: [String: JSONObject]) -> Result<String, PluginError> {
        let host = PluginHost(options: PluginOptions(directory: "", watch: false, settings: settings))
        do {
            let plugin = try PluginLoader(host: host, options: host.options).load(source, statistics: host.statistics(for:))
            var lines = [
                "\(plugin.name) \(plugin.version) (priority \(plugin.priority)) — \(source.path) ok",
                plugin.summary ?? "(no description)",
                "hooks: " + (plugin.hooks.isEmpty ? "none" : plugin.hooks.map(\.rawValue).sorted().joined(separator: ", ")),
            ]
            if !plugin.eventTypes.isEmpty {
                lines.append("event types: " + plugin.eventTypes.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value.summary))" }.joined(separator: ", "))
            }
            if !plugin.schema.fields.isEmpty {
                lines.append("settings:")
                for (name, field) in plugin.schema.fields {
                    let value = plugin.publicConfig[name].map { JSONWriter.string($0) } ?? "(unset)"
                    let about = field.description.map { " — \($0)" } ?? ""
                    lines.append("  \(name) (\(field.type)\(field.required ? ", required" : "")) = \(value)\(about)")
                }
            }
            _ = plugin.retire { _ in true }
            return .success(lines.joined(separator: "\n"))
        } catch {
            return .failure(error)
        }
    }
}
