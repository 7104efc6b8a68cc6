import Logging
import MoonwireCore

/// A hub in this process with some plugins of one directory, history in memory and a clock that moves
/// only when told: where `moonwire plugins test` and `moonwire plugins replay` run plugins.
final class LocalPluginHub: Sendable {
    /// Why the plugins did not load: the first load failure's message.
    struct LoadFailure: Error {
        let message: String
    }

    let clock = ManualClock()
    let host: PluginHost
    let hub: Hub

    /// Loads `plugins` of `directory` with their `settings`, `states` Lua states each, logging at
    /// `logLevel` and above; throws the first load failure (the host is stopped then).
    init(
        directory: String, plugins: Set<String>, settings: [String: JSONObject], states: Int, logLevel: Logger.Level, trigger: String
    ) throws(LoadFailure) {
        var options = PluginOptions(directory: directory, watch: false, settings: settings)
        options.onlyPlugins = plugins
        options.statesPerPlugin = states
        var pluginLogger = Logger(label: "moonwire.plugins")
        pluginLogger.logLevel = logLevel
        var hubLogger = Logger(label: "moonwire")
        hubLogger.logLevel = logLevel
        host = PluginHost(options: options, store: PluginStore(clock: clock), logger: pluginLogger, clock: clock)
        hub = Hub(configuration: HubConfiguration(), broker: MemoryBroker(historySize: 100), hooks: host, logger: hubLogger, clock: clock)
        host.attach(hub)
        let report = host.reload(trigger: trigger)
        if let failure = report.failed.first {
            host.stop()
            throw LoadFailure(message: failure.message)
        }
    }
}
