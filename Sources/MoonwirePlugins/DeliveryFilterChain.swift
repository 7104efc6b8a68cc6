import LuaRuntime
import MoonwireCore

/// One recipient's pass through the plugins' `on_deliver` filters, in order: each sees the event as the
/// filters before it left it, and may let it through, change it, or withhold it.
struct DeliveryFilterChain: Sendable {
    /// The event as the filters so far left it.
    private(set) var event: Event
    /// Whether a filter changed it.
    private var changed = false

    init(_ event: Event) {
        self.event = event
    }

    /// What the chain decided if it ended now.
    var decision: DeliveryDecision { changed ? .replace(event) : .deliver }

    /// The next filter's arguments on `vm`: the recipient, and the event (while no filter changed it, a
    /// read-only table that every recipient of the fan-out shares).
    func arguments(recipient: LuaValue, on vm: inout PluginVM) -> [LuaValue] {
        [recipient, changed ? event.pluginValue : .ref(vm.deliverEvent(event))]
    }

    /// Takes in how one filter's call ended: the chain's decision when it ends here, `nil` to go on.
    mutating func take(_ outcome: Plugin.Outcome, of plugin: Plugin) -> DeliveryDecision? {
        switch outcome {
        case .retired:
            return nil
        case .failed:
            return .drop
        case .done(let results):
            switch results.first ?? .none {
            case .none:
                return nil
            case .bool(false):
                return .drop
            case .bool(true):
                return decision
            case .value(.object(let fields)):
                event.apply(fields)
                changed = true
                return nil
            case let other:
                plugin.reportBadReturn(.onDeliver, other, expected: "nil, true, false or the event table")
                return .drop
            }
        }
    }
}
