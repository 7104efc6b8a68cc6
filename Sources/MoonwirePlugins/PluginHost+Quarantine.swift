import LuaRuntime
import MoonwireCore

/// A call that runs far past its deadline (something the limits do not reach) must not take the hub with
/// it: its version is quarantined (its calls fail at once) and a fresh version is built from the same
/// source, while the stuck call keeps its thread until it returns.
extension PluginHost {
    /// Quarantines `plugin` if a call has held its VM past the time any call may take; then rebuilds it.
    func checkStuck(_ plugin: Plugin) {
        guard plugin.quarantineIfStuck() else { return }
        plugin.statistics.recordQuarantine()
        let runningFor: String = plugin.busyFor.map { "\($0)" } ?? "?"
        logger.error(
            "plugin call stuck past its deadline: this version is quarantined and a fresh one is built from the same source",
            metadata: [
                "plugin": "\(plugin.name)", "version": "\(plugin.version)",
                "running_for": "\(runningFor)", "stuck_after": "\(plugin.timing.stuckAfter)",
            ])
        Task.detached { [weak self] in self?.rebuild(plugin) }
    }

    /// Checks every plugin in force for a stuck call (the watcher does, a few times a second).
    func checkStuckCalls() {
        for plugin in plugins { checkStuck(plugin) }
    }

    /// Replaces a quarantined version by a fresh one built from the same source (its `on_load` runs without
    /// saved state: the stuck version cannot hand any over). After `maxRebuilds` the plugin stays
    /// quarantined until its file changes.
    func rebuild(_ stuck: Plugin) {
        serialized(countsAsReload: false) {
            guard pluginSet.byName[stuck.name] === stuck else { return }  // a reload replaced it meanwhile
            let attempt = noteRebuild(of: stuck.name)
            guard attempt <= Self.maxRebuilds else {
                logger.error(
                    "plugin quarantined again: not rebuilt any more until its file changes",
                    metadata: ["plugin": "\(stuck.name)", "rebuilds": "\(attempt - 1)"])
                return
            }
            let loader = PluginLoader(host: self, options: options)
            do throws(PluginError) {
                let fresh = try loader.load(stuck.source, statistics: statistics(for:))
                if let error = runOnLoad(fresh, saved: nil) { throw error }
                stuck.retireNow()
                swapSet { PluginSet($0.plugins.filter { $0 !== stuck } + [fresh]) }
                timers.cancelAll(of: stuck)
                fresh.context.activate()
                logger.info("plugin rebuilt after a quarantine", metadata: ["plugin": "\(fresh.name)", "version": "\(fresh.version)"])
            } catch {
                recordFailure(stuck.name, path: stuck.source.path, message: "rebuild after a quarantine failed: \(error.description)")
            }
        }
    }

    /// Counts a rebuild of `name`; returns the count including this one.
    private func noteRebuild(of name: String) -> Int {
        rebuildCounts.withLock { counts in
            counts[name, default: 0] += 1
            return counts[name]!
        }
    }

    /// Forgets the rebuilds of a plugin whose file changed (a new version gets a fresh allowance).
    func forgetRebuilds(of name: String) {
        _ = rebuildCounts.withLock { $0.removeValue(forKey: name) }
    }
}
