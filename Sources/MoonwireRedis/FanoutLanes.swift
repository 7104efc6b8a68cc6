import MoonwireCore
import NIOCore
import Synchronization

/// Hands the events that arrive over pub/sub to the hub on several threads, a room always on the same
/// one: rooms are delivered in parallel, and each room's events stay in the order they arrived.
final class FanoutLanes: Sendable {
    private let lanes: [any EventLoop]
    private let pending = Atomic<Int>(0)

    /// - Parameter group: the threads (one lane per event loop).
    init(group: any EventLoopGroup) {
        var lanes: [any EventLoop] = []
        for loop in group.makeIterator() { lanes.append(loop) }
        self.lanes = lanes
    }

    /// Delivers `events` of `room` to `sink`, after what the room's lane already holds.
    func deliver(_ events: [Event], room: String, to sink: any BrokerSink) {
        guard !events.isEmpty else { return }
        let lane = lanes[Int(UInt(bitPattern: room.hashValue) % UInt(lanes.count))]
        pending.add(events.count, ordering: .relaxed)
        lane.execute {
            for event in events { sink.deliver(event) }
            self.pending.subtract(events.count, ordering: .relaxed)
        }
    }

    /// Events handed over and not yet delivered.
    var pendingCount: Int { pending.load(ordering: .relaxed) }
}
