import LuaRuntime
import MoonwireCore

/// What a reload did.
public struct ReloadReport: Sendable {
    public var loaded: [String] = []
    public var reloaded: [String] = []
    public var unchanged: [String] = []
    public var unloaded: [String] = []
    public var failed: [(plugin: String, message: String)] = []
    /// What did not stop anything but is likely a mistake (settings for a plugin that is not there).
    public var warnings: [(plugin: String, message: String)] = []

    /// True when nothing failed.
    public var succeeded: Bool { failed.isEmpty }
}

extension PluginHost {
    /// Loads new plugins, replaces changed ones and unloads deleted ones. A plugin that fails to load keeps
    /// its previous version running; the error (with file and line) is logged and kept for the API.
    @discardableResult
    public func reload(trigger: String) -> ReloadReport {
        serialized {
            var report = ReloadReport()
            var scan = PluginSource.scan(directory: options.directory)
            if let only = options.onlyPlugins { scan.sources.removeAll { !only.contains($0.fileName) } }
            for (path, message) in scan.errors {
                recordFailure(path, path: path, message: message)
                report.failed.append((path, message))
            }
            let (settingsChanged, settingsBefore) = rereadSettings(into: &report)
            let loader = PluginLoader(host: self, options: options)
            let scannedPaths = Set(scan.sources.map(\.path))
            var seenPaths = Set<String>()
            for source in scan.sources {
                seenPaths.insert(source.path)
                let existing = pluginSet.plugins.first { $0.source.path == source.path }
                if let existing, existing.source.hash == source.hash, !settingsChanged.contains(existing.name) {
                    report.unchanged.append(existing.name)
                    continue
                }
                let plugin: Plugin
                do throws(PluginError) {
                    plugin = try loader.load(source, statistics: statistics(for:))
                } catch {
                    let key = existing?.name ?? source.fileName
                    keepSettings(of: key, settingsBefore, changed: settingsChanged)
                    recordFailure(key, path: source.path, message: error.description)
                    report.failed.append((key, error.description))
                    continue
                }
                var replaced = existing
                if let clash = pluginSet.byName[plugin.name], clash.source.path != source.path, !scannedPaths.contains(clash.source.path) {
                    // The plugin's file was renamed (or moved into a folder): the new file replaces it.
                    replaced = clash
                } else if let clash = pluginSet.byName[plugin.name], clash.source.path != source.path {
                    let message = "plugin '\(plugin.name)' in \(source.path) has the same name as the one in \(clash.source.path)"
                    recordFailure(plugin.name, path: source.path, message: message)
                    report.failed.append((plugin.name, message))
                    discard(plugin)
                    continue
                }
                do throws(PluginError) {
                    try activate(plugin, replacing: replaced)
                    clearFailure(plugin.name)
                    clearFailure(source.fileName)
                    if replaced != nil { report.reloaded.append(plugin.name) } else { report.loaded.append(plugin.name) }
                    logger.info(
                        replaced == nil ? "plugin loaded" : "plugin reloaded",
                        metadata: ["plugin": "\(plugin.name)", "version": "\(plugin.version)", "trigger": "\(trigger)"])
                } catch {
                    keepSettings(of: plugin.name, settingsBefore, changed: settingsChanged)
                    recordFailure(plugin.name, path: source.path, message: error.description)
                    report.failed.append((plugin.name, error.description))
                    discard(plugin)
                }
            }
            for plugin in pluginSet.plugins where !seenPaths.contains(plugin.source.path) {
                unload(plugin)
                report.unloaded.append(plugin.name)
                logger.info("plugin unloaded", metadata: ["plugin": "\(plugin.name)", "trigger": "\(trigger)"])
            }
            forgetFailures(keeping: Set(pluginSet.plugins.map(\.name)), paths: scannedPaths.union(scan.errors.map(\.path)))
            let known = Set(pluginSet.plugins.map(\.name)).union(report.failed.map(\.plugin)).union(scan.sources.map(\.fileName))
            for name in currentSettings.withLock({ $0.keys }).sorted() where !known.contains(name) {
                let message = "the configuration has settings for plugin '\(name)' ([plugins.\(name)]), but \(options.directory)/ has no such plugin: they are not used"
                logger.warning("settings for a plugin that is not there", metadata: ["plugin": "\(name)", "directory": "\(options.directory)"])
                report.warnings.append((name, message))
            }
            return report
        }
    }

    /// Reads the configuration file's plugin tables again (when the options say how): a table that
    /// changed in the file since it was last read replaces the plugin's settings (changes made through the
    /// API to other plugins stay). Returns the plugins whose tables changed, and the settings before.
    private func rereadSettings(into report: inout ReloadReport) -> (Set<String>, [String: JSONObject]) {
        let before = currentSettings.withLock { $0 }
        guard let source = options.settingsSource else { return ([], before) }
        let fresh: [String: JSONObject]
        do {
            fresh = try source()
        } catch {
            let message = "the configuration file could not be read again; the plugins keep their settings: \(error)"
            logger.error("plugin settings not re-read", metadata: ["error": "\(error)"])
            report.failed.append(("configuration", message))
            return ([], before)
        }
        let previous = fileSettings.withLock { file in
            defer { file = fresh }
            return file
        }
        let changed = Set(fresh.keys).union(previous.keys).filter { fresh[$0] != previous[$0] }
        currentSettings.withLock { settings in
            for name in changed { settings[name] = fresh[name] }
        }
        return (changed, before)
    }

    /// A version with new settings did not load: the plugin keeps the settings in force, and the file's
    /// table counts as not read yet (the next reload tries it again).
    private func keepSettings(of name: String, _ before: [String: JSONObject], changed: Set<String>) {
        guard changed.contains(name) else { return }
        currentSettings.withLock { $0[name] = before[name] }
        fileSettings.withLock { $0[name] = before[name] }
    }

    /// Hands over from `old` (if any) to `new` atomically: while every state of the old version is held,
    /// its first state's `on_unload` runs, the new version's `on_load(config, saved)` runs, and the plugin set is swapped.
    /// If the new `on_load` fails, the old version gets its state back through its own `on_load`. An old
    /// version stuck in a call is replaced without a handover.
    func activate(_ new: Plugin, replacing old: Plugin?) throws(PluginError) {
        var failure: PluginError?
        if let old {
            let swapped = old.retire { vm in
                var saved: JSONValue?
                if let unload = vm.hooks[.onUnload] {
                    switch vm.state.call(unload, [], results: 1) {
                    case .success(let results):
                        if case .value(let value)? = results.first { saved = value }
                    case .failure(let error):
                        logger.error("on_unload failed; the new version starts without saved state",
                                     metadata: ["plugin": "\(old.name)", "error": "\(error.detailed)"])
                    }
                }
                if let error = runOnLoad(new, saved: saved) {
                    failure = error
                    if let load = vm.hooks[.onLoad] {
                        _ = vm.state.call(load, [.json(.object(old.config)), saved.map { .json($0) } ?? .nilValue], results: 0)
                    }
                    return false
                }
                swapSet { PluginSet($0.plugins.filter { $0 !== old } + [new]) }
                return true
            }
            if swapped == nil {
                logger.error(
                    "the running version is stuck in a call: it is replaced without on_unload",
                    metadata: ["plugin": "\(old.name)", "version": "\(old.version)"])
                if let error = runOnLoad(new, saved: nil) { throw error }
                old.retireNow()
                swapSet { PluginSet($0.plugins.filter { $0 !== old } + [new]) }
            }
            if let failure { throw failure }
            timers.cancelAll(of: old)
        } else {
            if let error = runOnLoad(new, saved: takeSavedState(new.name)) { throw error }
            swapSet { PluginSet($0.plugins + [new]) }
        }
        forgetRebuilds(of: new.name)
        new.context.activate()
    }

    /// Runs a version's `on_load(config, saved)` in each of its states, the first state first; the error
    /// when one fails. Only the first state's timers start: the other states asked for the same ones while
    /// they ran the plugin's file and `on_load`. After it, every state's timers start.
    func runOnLoad(_ plugin: Plugin, saved: JSONValue?) -> PluginError? {
        defer {
            for index in 1..<max(1, plugin.stateCount) { _ = plugin.withVM(at: index) { $0.context.startsTimers.store(true, ordering: .relaxed) } }
        }
        guard plugin.hooks.contains(.onLoad) else { return nil }
        for index in 0..<plugin.stateCount {
            let outcome = plugin.call(.onLoad, onState: index, function: { $0.hooks[.onLoad] }, results: 0) { _ in
                [.json(.object(plugin.config)), saved.map { .json($0) } ?? .nilValue]
            }
            if case .failed(let failure) = outcome { return .onLoad(plugin.name, failure.detail) }
        }
        return nil
    }

    /// Unloads a plugin whose file is gone: `on_unload` runs, its timers stop, its types go.
    private func unload(_ plugin: Plugin) {
        let swapped = plugin.retire { vm in
            if let unload = vm.hooks[.onUnload], case .success(let results) = vm.state.call(unload, [], results: 1),
                case .value(let saved)? = results.first
            {
                keepSavedState(plugin.name, saved)
            }
            swapSet { PluginSet($0.plugins.filter { $0 !== plugin }) }
            return true
        }
        if swapped == nil {  // stuck in a call: gone without on_unload
            plugin.retireNow()
            swapSet { PluginSet($0.plugins.filter { $0 !== plugin }) }
        }
        timers.cancelAll(of: plugin)
        timers.forget(plugin: plugin.name)
        finishPublishing(plugin: plugin.name)
        discardShadow(of: plugin.name)
        forgetRebuilds(of: plugin.name)
    }

    /// Drops a version that never became active.
    private func discard(_ plugin: Plugin) {
        plugin.retireNow()
        timers.cancelAll(of: plugin)
    }
}
