import LuaRuntime
import Synchronization

/// The objects a spec holds by number (its hubs, a hub's connections): the Lua side sees the numbers.
final class SpecHandles<Value: Sendable>: Sendable {
    private let values = Mutex<[Int: Value]>([:])
    private let next = Atomic<Int>(1)
    /// The error for a number that names nothing.
    private let missing: String

    init(missing: String) {
        self.missing = missing
    }

    /// Keeps `value`; its number.
    func add(_ value: Value) -> Int {
        let id = next.add(1, ordering: .relaxed).oldValue
        values.withLock { $0[id] = value }
        return id
    }

    func get(_ id: Int) throws(LuaCallError) -> Value {
        guard let value = values.withLock({ $0[id] }) else { throw LuaCallError(missing) }
        return value
    }

    /// Every value held.
    var all: [Value] { values.withLock { Array($0.values) } }

    /// Forgets every value; returns them.
    func removeAll() -> [Value] {
        values.withLock { values in
            defer { values.removeAll() }
            return Array(values.values)
        }
    }
}
