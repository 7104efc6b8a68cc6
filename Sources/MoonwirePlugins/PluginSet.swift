/// The plugins in force, in hook order (priority, highest first, then name). Replaced as a whole on reload.
struct PluginSet: Sendable {
    let plugins: [Plugin]
    let byName: [String: Plugin]
    /// The plugin that registered each custom event type.
    let typeOwners: [String: Plugin]
    let filtersDelivery: Bool

    init(_ plugins: [Plugin]) {
        self.plugins = plugins.sorted { $0.priority != $1.priority ? $0.priority > $1.priority : $0.name < $1.name }
        self.byName = Dictionary(plugins.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var owners: [String: Plugin] = [:]
        for plugin in self.plugins {
            for type in plugin.eventTypes.keys where owners[type] == nil { owners[type] = plugin }
        }
        self.typeOwners = owners
        self.filtersDelivery = plugins.contains { $0.hooks.contains(.onDeliver) }
    }

    init() { self.init([]) }

    /// Plugins defining `hook`, in order.
    func with(_ hook: PluginHook) -> [Plugin] {
        plugins.filter { $0.hooks.contains(hook) }
    }
}
