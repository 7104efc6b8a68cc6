import Logging
import MoonwireCore
import Synchronization

/// One plugin's `hub.publish` calls, published in order after the calls that made them, bounded in bytes.
final class PublishQueue: Sendable {
    private let continuation: AsyncStream<(Event, PublisherInfo, Int)>.Continuation
    private let pending = Atomic<Int>(0)

    init(plugin: String, hub: Hub, statistics: PluginStatistics) {
        let (stream, continuation) = AsyncStream<(Event, PublisherInfo, Int)>.makeStream()
        self.continuation = continuation
        // The task holds the queue until `finish()` ends the stream.
        Task { [self, weak hub] in
            for await (event, publisher, size) in stream {
                defer { pending.subtract(size, ordering: .relaxed) }
                guard let hub else { continue }
                do {
                    _ = try await hub.publish(event, from: publisher, requireKnownType: false)
                } catch {
                    statistics.recordDroppedPublish(.refused)
                    hub.logger.warning(
                        "plugin publish refused", metadata: ["plugin": "\(plugin)", "room": "\(event.roomID ?? "")", "error": "\(error)"])
                }
            }
        }
    }

    /// Bytes of events waiting.
    var pendingBytes: Int { pending.load(ordering: .relaxed) }

    /// Queues an event unless the queue would then hold more than `limit` bytes.
    func enqueue(_ event: Event, from publisher: PublisherInfo, size: Int, limit: Int) -> Bool {
        let before = pending.add(size, ordering: .relaxed).oldValue
        guard before == 0 || before + size <= limit else {
            pending.subtract(size, ordering: .relaxed)
            return false
        }
        continuation.yield((event, publisher, size))
        return true
    }

    /// Publishes what is queued, then stops.
    func finish() { continuation.finish() }
}
