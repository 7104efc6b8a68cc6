import LuaRuntime
import MoonwireCore
import Synchronization

/// What one spec file's `test` functions act on: the hubs its tests made (stopped after each test).
final class SpecSession: Sendable {
    let spec: PluginSpec
    private let hubs = Mutex<[Int: SpecHub]>([:])
    private let nextHub = Atomic<Int>(1)

    init(spec: PluginSpec) {
        self.spec = spec
    }

    func add(_ hub: SpecHub) -> Int {
        let id = nextHub.add(1, ordering: .relaxed).oldValue
        hubs.withLock { $0[id] = hub }
        return id
    }

    func hub(_ id: Int) throws(LuaCallError) -> SpecHub {
        guard let hub = hubs.withLock({ $0[id] }) else { throw LuaCallError("test: that hub is gone (hubs last one test)") }
        return hub
    }

    /// Stops and forgets the hubs of the test that ended.
    func endTest() async {
        for hub in hubs.withLock({ hubs in defer { hubs.removeAll() }; return Array(hubs.values) }) { await hub.stop() }
    }
}
