import MoonwireCore

/// Settings changed while the hub runs (`PUT /api/plugins/NAME/settings`): no restart, no dropped
/// connection.
extension PluginHost {
    /// Why a change to a running plugin (settings, shadow) was refused (nothing changed then).
    public enum PluginChangeError: Error, Sendable, Equatable {
        /// No plugin of that name is loaded (or has no shadow).
        case noSuchPlugin(String)
        /// The change does not fit: settings the schema refuses, a version that does not load.
        case refused(String)
    }

    /// The settings a plugin gets when it loads: its `[plugins.NAME]` table, with the changes made
    /// through `changeSettings` since.
    func settings(for name: String) -> JSONObject {
        currentSettings.withLock { $0[name] ?? [:] }
    }

    /// Merges `changes` onto a plugin's settings (a `null` value removes a key, which then takes its
    /// default), checks them against the plugin's schema, and hands them to a new version built from the
    /// running one's source through the reload's hand-over (`on_unload`, then `on_load(config, saved)`).
    /// Returns the settings in force afterwards, secrets masked.
    public func changeSettings(of name: String, _ changes: JSONObject) -> Result<JSONObject, PluginChangeError> {
        serialized {
            guard let running = pluginSet.byName[name] else { return .failure(.noSuchPlugin(name)) }
            let previous = settings(for: name)
            var merged = previous
            for (key, value) in changes {
                if value == .null { merged[key] = nil } else { merged[key] = value }
            }
            do throws(PluginError) {
                _ = try running.schema.validate(merged, plugin: name)
            } catch {
                return .failure(.refused(error.description))
            }
            currentSettings.withLock { $0[name] = merged }
            let replacement: Plugin
            do throws(PluginError) {
                replacement = try PluginLoader(host: self, options: options).load(running.source, statistics: statistics(for:))
                try activate(replacement, replacing: running)
            } catch {
                currentSettings.withLock { $0[name] = previous }
                return .failure(.refused(error.description))
            }
            logger.info("plugin settings changed", metadata: ["plugin": "\(name)", "keys": "\(changes.keys.sorted().joined(separator: ","))"])
            return .success(replacement.publicConfig)
        }
    }
}
