import Foundation
import MoonwireCore
import LuaRuntime

/// Shadow mode: a candidate version of a plugin beside the live one, asked the same questions, its
/// answers recorded and compared, never applied; then promoted (it becomes the plugin's file and is
/// loaded) or discarded.
extension PluginHost {
    /// Loads `text` as a shadow of the running plugin `name` (with the same settings and `lib/` modules)
    /// and starts comparing; a shadow already there is replaced.
    public func startShadow(of name: String, text: String) -> Result<PluginShadow, PluginChangeError> {
        serialized(countsAsReload: false) {
            guard let running = pluginSet.byName[name] else { return .failure(.noSuchPlugin(name)) }
            let source = PluginSource(fileName: name, path: "shadow:\(running.source.path)", text: text, libraries: running.source.libraries)
            let candidate: Plugin
            do throws(PluginError) {
                candidate = try PluginLoader(host: self, options: options).load(source, shadow: true) { self.statistics(for: "\($0)~shadow") }
            } catch {
                return .failure(.refused(error.description))
            }
            if let error = runOnLoad(candidate, saved: nil) {
                candidate.retireNow()
                return .failure(.refused(error.description))
            }
            let shadow = PluginShadow(plugin: candidate, source: source)
            shadows.withLock { $0.updateValue(shadow, forKey: name) }?.plugin.retireNow()
            shadowsActive.store(true, ordering: .relaxed)
            logger.info("plugin shadow started", metadata: ["plugin": "\(name)", "source_sha256": "\(source.hash)"])
            return .success(shadow)
        }
    }

    /// The shadow of plugin `name`, if it has one.
    public func shadow(of name: String) -> PluginShadow? {
        shadows.withLock { $0[name] }
    }

    /// Stops comparing and drops the shadow; false when there was none.
    @discardableResult
    public func discardShadow(of name: String) -> Bool {
        guard let shadow = shadows.withLock({ shadows in
            defer { shadowsActive.store(!shadows.isEmpty, ordering: .relaxed) }
            return shadows.removeValue(forKey: name)
        }) else { return false }
        shadow.plugin.retireNow()
        logger.info("plugin shadow discarded", metadata: ["plugin": "\(name)"])
        return true
    }

    /// Makes the shadow live: its source replaces the plugin's file, and a reload loads it (with the
    /// usual hand-over of state). Returns the reload's report.
    public func promoteShadow(of name: String) -> Result<ReloadReport, PluginChangeError> {
        guard let shadow = self.shadow(of: name) else { return .failure(.noSuchPlugin(name)) }
        guard let running = pluginSet.byName[name] else { return .failure(.noSuchPlugin(name)) }
        do {
            try shadow.source.text.write(toFile: running.source.path, atomically: true, encoding: .utf8)
        } catch {
            return .failure(.refused("cannot write \(running.source.path): \(error.localizedDescription)"))
        }
        discardShadow(of: name)
        let report = reload(trigger: "shadow promoted")
        return .success(report)
    }

    /// Asks the shadow of `plugin` (if any) what it would deliver to `recipient`: the shadow, the step's
    /// name and its verdict; `nil` without a shadow, or when the shadow's filter waits (it is let finish
    /// and not compared).
    func shadowDelivery(
        _ plugin: Plugin, _ event: Event, _ recipient: ConnectionInfo, _ ctx: LuaValue, _ chain: DeliveryFilterChain
    ) -> (PluginShadow, String, String)? {
        guard let shadow = shadows.withLock({ $0[plugin.name] }) else { return nil }
        let roles = recipient.identity.roles
        let step = "on_deliver (roles: \(roles.isEmpty ? "none" : roles.joined(separator: ", ")))"
        switch shadow.plugin.start(.onDeliver, function: { $0.hooks[.onDeliver] }, results: 1, hops: event.pluginHops, { chain.arguments(recipient: ctx, on: &$0) }) {
        case .over(let outcome):
            return (shadow, step, outcome.verdict)
        case .waiting(let pending):
            Task { _ = await shadow.plugin.finish(pending) }
            return nil
        }
    }

    /// Asks the shadow of `plugin` (if any) the same question first (its store increments then read what
    /// the live call will write), then runs `live`, and records both answers under `step` (default: the
    /// hook's name); `subject` says what the call was about.
    func withShadow(
        of plugin: Plugin, _ hook: PluginHook, step: String? = nil, function: ((PluginVM) -> LuaRef?)? = nil, hops: Int = 0,
        subject: @autoclosure () -> JSONObject, results: Int32,
        _ arguments: (inout PluginVM) -> [LuaValue], live: () async -> Plugin.Outcome
    ) async -> Plugin.Outcome {
        guard shadowsActive.load(ordering: .relaxed), let shadow = shadows.withLock({ $0[plugin.name] }) else { return await live() }
        let pick = function ?? { $0.hooks[hook] }
        let shadowOutcome = await shadow.plugin.callWaiting(hook, function: pick, results: results, hops: hops, arguments)
        let outcome = await live()
        shadow.compare(step ?? hook.rawValue, subject: subject(), live: outcome.verdict, shadow: shadowOutcome.verdict)
        return outcome
    }
}
