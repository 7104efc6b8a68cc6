import Logging
import MoonwireCore
import Synchronization

/// The embedded broker with durable history: rooms are kept in memory as `MemoryBroker` keeps them, and
/// every stored event is written to a SQLite file before anyone sees it, so a restarted node has its
/// history back and clients resume across the restart (ids go on increasing).
///
/// Writes are group commits: a publish queues its event and waits; one writer takes everything queued
/// (up to `maxBatch`), writes it in one transaction, then delivers those events in order and answers
/// their publishers. Under load many events share one commit; a lone publish costs one small commit.
public final class SQLiteBroker: Broker {
    public struct Options: Sendable {
        public var path: String
        /// Events kept per room.
        public var historySize = 100
        /// Events older than this leave history (`nil`: none).
        public var maxAge: Duration?
        /// Most events in one transaction.
        public var maxBatch = 512
        /// How often rooms written to are trimmed in the file (memory is trimmed at once).
        public var trimInterval: Duration = .seconds(2)
        /// History kept in memory over every room together, in bytes; past it the oldest events leave the
        /// memory copy first, whatever their room (0: no cap). The file keeps `historySize` per room.
        public var maxBytes = 0

        public init(path: String) {
            self.path = path
        }
    }

    private struct Pending {
        var event: Event
        var continuation: CheckedContinuation<Event, any Error>
    }

    private struct Queue {
        var pending: [Pending] = []
        var writing = false
        var closed = false
        /// The newest id given out per room (ahead of the stream while its events are being written).
        var assigned: [String: EventID] = [:]
        var dirty: Set<String> = []
        var lastTrim = ContinuousClock.now
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    private struct Counters {
        var batches = 0
        var written = 0
        var failures = 0
        var lastError: String?
    }

    public let options: Options
    private let file: SQLiteHistoryFile
    private let floor: EventID
    private let logger: Logger
    private let table: StreamTable
    private let queue = Mutex(Queue())
    private let counters = Mutex(Counters())
    private let sink = Mutex<(any BrokerSink)?>(nil)

    private init(options: Options, file: SQLiteHistoryFile, floor: EventID, logger: Logger) {
        self.options = options
        self.file = file
        self.floor = floor
        self.logger = logger
        self.table = StreamTable(
            limits: StreamTable.Limits(
                eventsPerRoom: options.historySize, maxAgeMicroseconds: options.maxAge.map { Int64($0.nanoseconds / 1000) } ?? 0,
                maxBytes: options.maxBytes),
            floor: floor)
    }

    /// Opens the file and loads its history.
    public static func open(options: Options, logger: Logger = Logger(label: "moonwire.sqlite")) async throws -> SQLiteBroker {
        let file = try await SQLiteHistoryFile.open(path: options.path, logger: logger)
        do {
            let floor = try await file.created()
            let broker = SQLiteBroker(options: options, file: file, floor: floor, logger: logger)
            let stored = try await file.load(capacity: max(0, options.historySize))
            broker.table.restore(
                stored.map { room, entry in
                    let head = max(entry.events.last?.id ?? .zero, entry.trimmed, entry.beyondCapacity ?? .zero, floor)
                    let retainedAfter = max(entry.trimmed, entry.beyondCapacity ?? .zero, floor)
                    return (room, entry.events, head, retainedAfter)
                })
            logger.info(
                "history loaded",
                metadata: ["path": "\(options.path)", "rooms": "\(broker.table.streamCount)", "events": "\(broker.table.retainedEvents)"])
            return broker
        } catch {
            await file.close()
            throw error
        }
    }

    public func attach(_ sink: any BrokerSink) {
        self.sink.withLock { $0 = sink }
    }

    // MARK: Publish

    public func publish(_ event: Event, store: Bool) async throws -> Event {
        guard store, let room = event.roomID else {
            sink.withLock { $0 }?.deliver(event)
            return event
        }
        return try await withCheckedThrowingContinuation { continuation in
            let startWriter = queue.withLock { queue -> Bool? in
                guard !queue.closed else { return nil }
                var stored = event
                // Ids go on from the room's stream (or what is remembered of it once forgotten).
                let id = EventID.next(after: queue.assigned[room] ?? table.head(of: room) ?? table.base(for: room))
                queue.assigned[room] = id
                stored.id = id
                stored.ephemeralID = ""
                queue.pending.append(Pending(event: stored, continuation: continuation))
                if queue.writing { return false }
                queue.writing = true
                return true
            }
            switch startWriter {
            case nil:
                continuation.resume(throwing: HubError(.shuttingDown, "the history file is closed"))
            case true?:
                Task { await self.drain() }
            case false?:
                break
            }
        }
    }

    /// Writes batches until nothing is queued.
    private func drain() async {
        while true {
            let batch = queue.withLock { queue -> [Pending]? in
                guard !queue.pending.isEmpty else {
                    queue.writing = false
                    return nil
                }
                let count = min(queue.pending.count, max(1, options.maxBatch))
                let batch = Array(queue.pending.prefix(count))
                queue.pending.removeFirst(count)
                for item in batch { queue.dirty.insert(item.event.roomID ?? "") }
                return batch
            }
            guard let batch else { break }
            do {
                try await file.write(batch.map(\.event))
                counters.withLock { counters in
                    counters.batches += 1
                    counters.written += batch.count
                    counters.lastError = nil
                }
            } catch {
                counters.withLock { counters in
                    counters.failures += 1
                    counters.lastError = "\(error)"
                }
                logger.error("writing history failed", metadata: ["path": "\(options.path)", "events": "\(batch.count)", "error": "\(error)"])
                for item in batch {
                    item.continuation.resume(throwing: HubError(.unavailable, "history could not be written: \(error)"))
                }
                continue
            }
            let sink = self.sink.withLock { $0 }
            for item in batch {
                table.append(
                    item.event.roomID ?? "",
                    { stream in
                        stream.appendStored(item.event)
                        return item.event
                    }, deliver: { sink?.deliver($0) })
                item.continuation.resume(returning: item.event)
            }
            await trimIfDue()
        }
        let waiters = queue.withLock { queue -> [CheckedContinuation<Void, Never>] in
            guard !queue.writing else { return [] }
            defer { queue.drained = [] }
            return queue.drained
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Trims the file for the rooms written to, every `trimInterval` (or at once with `force`).
    private func trimIfDue(force: Bool = false) async {
        let rooms = queue.withLock { queue -> [String]? in
            guard force || ContinuousClock.now - queue.lastTrim >= options.trimInterval, !queue.dirty.isEmpty else { return nil }
            queue.lastTrim = .now
            defer { queue.dirty = [] }
            return Array(queue.dirty)
        }
        guard let rooms else { return }
        let cutoff = options.maxAge.map { EventID(EventID.now().value - Int64($0.nanoseconds / 1000)) }
        do {
            try await file.trim(rooms: rooms, capacity: max(0, options.historySize), cutoff: cutoff)
        } catch {
            logger.warning("trimming history failed", metadata: ["path": "\(options.path)", "error": "\(error)"])
        }
    }

    // MARK: Reads

    public func history(room: String, _ request: HistoryRequest) async throws -> HistoryPage {
        table.read(room, request)
    }

    public func recentHistory(room: String, count: Int) -> [Event]? {
        table.withStream(room, create: false) { stream in
            stream.evictExpired()
            return stream.read(.latest(count)).events
        } ?? []
    }

    public func retainsHistory(room: String) -> Bool {
        table.retains(room)
    }

    /// Forgets the room's in-memory stream unless one of its events is still being written.
    public func forget(room: String) {
        queue.withLock { queue in
            if let assigned = queue.assigned[room], (table.head(of: room) ?? .zero) < assigned { return }
            if table.forget(room) { queue.assigned.removeValue(forKey: room) }
        }
    }

    public func roomsWithHistory() -> [String] {
        table.roomsWithEvents()
    }

    public func subscribe(room: String) async throws {}
    public func unsubscribe(room: String) async throws {}

    // MARK: Lifecycle

    /// Writes what is queued, trims, and closes the file; later publishes fail.
    public func shutdown() async {
        let writing = queue.withLock { queue -> Bool in
            queue.closed = true
            return queue.writing
        }
        if writing {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = queue.withLock { queue -> Bool in
                    if !queue.writing { return true }
                    queue.drained.append(continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        }
        await trimIfDue(force: true)
        await file.close()
    }

    public func statistics() async -> BrokerStatistics {
        let retained = table.retainedEvents
        let counters = self.counters.withLock { $0 }
        let pending = queue.withLock { $0.pending.count }
        var details: JSONObject = [
            "path": .string(options.path),
            "batches_written": .int(Int64(counters.batches)),
            "events_written": .int(Int64(counters.written)),
            "write_failures": .int(Int64(counters.failures)),
            "pending_writes": .int(Int64(pending)),
            "retained_bytes": .int(Int64(table.retainedBytes)),
            "max_bytes": .int(Int64(table.limits.maxBytes)),
        ]
        if let error = counters.lastError { details["last_error"] = .string(error) }
        return BrokerStatistics(kind: "sqlite", retainedEvents: retained, healthy: counters.lastError == nil, details: details)
    }
}
