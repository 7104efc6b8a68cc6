import Foundation
import NIOCore
import Synchronization

/// Chat: M WebSocket clients in rooms of G, each sending messages on its own connection at a fixed rate
/// and receiving everyone else's. Measures the hub handling client frames (parse, checks, store) and
/// fan-out together. Moonwire only.
enum ChatScenario {
    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        guard options.target == .moonwire else { throw BenchError.invalid("chat runs against Moonwire only (clients publish over its WebSocket protocol)") }
        return try await Bench.withServer(options) { endpoint, pid in
            let load = LoadContext(endpoint: endpoint, threads: options.threads, payload: BenchPayload(runID: "0", size: options.payloadBytes))
            let runID = RunID.make()
            let count = options.subscribers ?? 500
            let size = max(2, min(options.roomSize, count))
            let rooms = max(1, (count + size - 1) / size)
            let names = (0..<rooms).map { "bench-\(runID)-chat\($0)" }
            options.log("chat: opening \(count) WebSocket clients in \(rooms) rooms of up to \(size)")
            let pool = await SubscriberPool.open(
                load: load, transport: .ws, roomNames: names, count: count, roomOf: { $0 / size },
                runID: runID, distinctUsers: true, concurrency: options.connectConcurrency, log: options.log)
            let payload = BenchPayload(runID: RunID.make(), size: options.payloadBytes)
            try await load.startPhase(payload: payload, subscribers: pool.states)
            let readyPerRoom = pool.readyPerRoom
            let nextSeq = Atomic<Int>(0)
            let expected = Atomic<Int>(0)
            let sent = Atomic<Int>(0)
            let failed = Atomic<Int>(0)
            let interval = TimeAmount.nanoseconds(Int64(1e9 / max(0.001, options.messageRate)))
            let monitor = UsageMonitor(pid: pid)
            let clientMonitor = UsageMonitor(pid: getpid(), descendants: false)
            monitor.begin()
            clientMonitor.begin()
            let started = BenchClock.monotonicNanos()
            let startedMicros = BenchClock.realtimeMicros()
            var tasks: [RepeatedTask] = []
            for (index, handle) in pool.handles.enumerated() {
                guard case .webSocket(let client) = handle else { continue }
                let room = pool.states[index].room
                let prefix = Array(#"{"event_type":"message","room_id":"\#(names[room])","data":"#.utf8)
                let recipients = readyPerRoom[room] - 1
                let offset = TimeAmount.nanoseconds(Int64.random(in: 0..<max(1, interval.nanoseconds)))
                tasks.append(client.eventLoop.scheduleRepeatedTask(initialDelay: offset, delay: interval) { _ in
                    let seq = nextSeq.wrappingAdd(1, ordering: .relaxed).oldValue
                    var frame = prefix
                    frame += payload.make(seq: UInt64(seq), micros: BenchClock.realtimeMicros())
                    frame.append(UInt8(ascii: "}"))
                    expected.wrappingAdd(recipients, ordering: .relaxed)
                    if client.send(frame) {
                        sent.wrappingAdd(1, ordering: .relaxed)
                    } else {
                        expected.wrappingSubtract(recipients, ordering: .relaxed)
                        failed.wrappingAdd(1, ordering: .relaxed)
                    }
                })
            }
            try await Task.sleep(nanoseconds: UInt64(options.duration * 1e9))
            for task in tasks { task.cancel() }
            // Let sends already scheduled on the loops finish before counting.
            for loop in load.loops { try await loop.submit {}.get() }
            let publishSeconds = BenchClock.seconds(since: started)
            let expectedTotal = expected.load(ordering: .relaxed)
            try await Drain.wait(load: load, expected: expectedTotal, idle: options.drain)
            let hub = monitor.end()
            let client = clientMonitor.end()
            let snapshot = try await load.collect()
            var result = BenchResult(scenario: "chat", target: endpoint.target, transport: .ws, connections: pool.readyCount,
                                     rooms: rooms, payloadBytes: payload.size, mode: "rate")
            result.targetRate = options.messageRate * Double(pool.readyCount)
            let end = snapshot.lastReceiptMicros > startedMicros ? snapshot.lastReceiptMicros : BenchClock.realtimeMicros()
            result.durationSeconds = max(publishSeconds, Double(end - startedMicros) / 1e6)
            result.published = sent.load(ordering: .relaxed)
            result.publishErrors = failed.load(ordering: .relaxed)
            result.expected = expectedTotal
            result.received = snapshot.received
            result.duplicates = snapshot.duplicates
            result.missing = max(0, expectedTotal - snapshot.received)
            result.publishedPerSecond = Double(result.published) / publishSeconds
            result.deliveredPerSecond = Double(snapshot.received) / result.durationSeconds
            result.latency = LatencySummary(snapshot.histogram)
            result.hub = hub
            result.clientCPUPercent = client?.cpuPercent
            result.errors = snapshot.errors
            result.extra["messages_per_client_per_second"] = options.messageRate
            result.extra["room_size"] = Double(size)
            result.extra["connect_seconds"] = pool.connectSeconds
            if pool.readyCount < count { result.notes.append("\(count - pool.readyCount) of \(count) clients never got ready") }
            pool.close()
            try? await Task.sleep(nanoseconds: 300_000_000)
            await load.shutdown()
            return [result]
        }
    }
}
