import LuaRuntime
import MoonwireCore

/// What one spec file's `test` functions act on: the hubs its tests made (stopped after each test).
final class SpecSession: Sendable {
    let spec: PluginSpec
    private let hubs = SpecHandles<SpecHub>(missing: "test: that hub is gone (hubs last one test)")

    init(spec: PluginSpec) {
        self.spec = spec
    }

    func add(_ hub: SpecHub) -> Int { hubs.add(hub) }

    func hub(_ id: Int) throws(LuaCallError) -> SpecHub { try hubs.get(id) }

    /// Stops and forgets the hubs of the test that ended.
    func endTest() async {
        for hub in hubs.removeAll() { await hub.stop() }
    }
}
