import Foundation
import NIOCore
import Synchronization

/// Counters the publishers share.
final class PublishCounters: @unchecked Sendable {
    let nextSeq = Atomic<Int>(0)
    let published = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
    /// Deliveries expected from what was published (counted before each send).
    let expected = Atomic<Int>(0)
    /// Deliveries given up on after a stall (full speed), so that the window reopens.
    let forgiven = Atomic<Int>(0)
    /// The largest lag behind a fixed-rate schedule, microseconds.
    let maxLagMicros = Atomic<Int>(0)
}

/// One measured phase: publishers send events over HTTP (fixed rate, or full speed within a window of
/// undelivered events), the pool's subscribers receive them, then the phase drains and is counted.
struct PublishPhase {
    var scenario: String
    var variant: String = ""
    var mode: Mode
    var payloadBytes: Int
    var duration: Double
    var drain: Double
    var publishers: Int
    var hubPID: Int32?
    /// The room of event `seq` (an index into the pool's rooms).
    var roomOf: @Sendable (Int) -> Int = { _ in 0 }

    enum Mode {
        /// Events per second, all publishers together.
        case rate(Double)
        /// At most this many events published but not yet delivered to all their subscribers.
        case full(window: Int)
    }

    func run(pool: SubscriberPool, log: @Sendable (String) -> Void) async throws -> BenchResult {
        let load = pool.load
        let runID = RunID.make()
        let payload = BenchPayload(runID: runID, size: payloadBytes)
        try await load.startPhase(payload: payload, subscribers: pool.states)
        let readyPerRoom = pool.readyPerRoom
        let roomNames = pool.roomNames
        let recipientsPerEvent = max(1, readyPerRoom.max() ?? 1)
        let counters = PublishCounters()
        let connections = try await withThrowingTaskGroup(of: HTTPConnection.self) { group in
            for index in 0..<max(1, publishers) {
                group.addTask { try await HTTPConnection.connect(load.endpoint, on: load.loop(for: index)) }
            }
            return try await group.reduce(into: [HTTPConnection]()) { $0.append($1) }
        }
        defer { for connection in connections { connection.close() } }

        let monitor = UsageMonitor(pid: hubPID)
        let clientMonitor = UsageMonitor(pid: getpid(), descendants: false)
        monitor.begin()
        clientMonitor.begin()
        let started = BenchClock.monotonicNanos()
        let startedMicros = BenchClock.realtimeMicros()
        let deadline = started + UInt64(duration * 1e9)
        let endpoint = load.endpoint
        let mode = self.mode
        let roomOf = self.roomOf
        await withTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask {
                    var lastProgress = -1
                    var lastProgressAt = BenchClock.monotonicNanos()
                    // Each publisher sends at least once, even when it starts after the deadline (a loaded machine).
                    var sentAny = false
                    while true {
                        let seq: Int
                        switch mode {
                        case .rate(let rate):
                            seq = counters.nextSeq.wrappingAdd(1, ordering: .relaxed).oldValue
                            let due = started + UInt64(Double(seq) / rate * 1e9)
                            if due >= deadline { return }
                            let now = BenchClock.monotonicNanos()
                            if due > now {
                                try? await Task.sleep(nanoseconds: due - now)
                            } else {
                                let lag = Int((now - due) / 1000)
                                if lag > counters.maxLagMicros.load(ordering: .relaxed) { counters.maxLagMicros.store(lag, ordering: .relaxed) }
                            }
                        case .full(let window):
                            // Wait until fewer than `window` events are undelivered.
                            while true {
                                if sentAny, BenchClock.monotonicNanos() >= deadline { return }
                                let progress = load.progress + counters.forgiven.load(ordering: .relaxed)
                                let outstanding = counters.expected.load(ordering: .relaxed) - progress
                                if outstanding < window * recipientsPerEvent { break }
                                let now = BenchClock.monotonicNanos()
                                if progress != lastProgress {
                                    lastProgress = progress
                                    lastProgressAt = now
                                } else if now - lastProgressAt > 2_000_000_000 {
                                    // Nothing arrives any more: some deliveries are lost; stop waiting for them.
                                    counters.forgiven.wrappingAdd(outstanding, ordering: .relaxed)
                                    load.error("window stall", "no delivery for 2 s with \(outstanding) outstanding; publishing on")
                                    break
                                }
                                try? await Task.sleep(nanoseconds: 200_000)
                            }
                            seq = counters.nextSeq.wrappingAdd(1, ordering: .relaxed).oldValue
                        }
                        sentAny = true
                        let room = roomOf(seq)
                        let recipients = readyPerRoom[room]
                        counters.expected.wrappingAdd(recipients, ordering: .relaxed)
                        let body = payload.make(seq: UInt64(seq), micros: BenchClock.realtimeMicros())
                        let request = endpoint.publishRequest(room: roomNames[room], payload: body)
                        do {
                            let reply = try await connection.request(.POST, request.path, body: request.body)
                            if (200..<300).contains(reply.status) {
                                counters.published.wrappingAdd(1, ordering: .relaxed)
                            } else {
                                counters.expected.wrappingSubtract(recipients, ordering: .relaxed)
                                counters.errors.wrappingAdd(1, ordering: .relaxed)
                                load.error("publish HTTP \(reply.status)", reply.text.prefix(200).description)
                            }
                        } catch {
                            counters.expected.wrappingSubtract(recipients, ordering: .relaxed)
                            counters.errors.wrappingAdd(1, ordering: .relaxed)
                            load.error("publish failed", "\(error)")
                            return
                        }
                    }
                }
            }
        }
        let publishSeconds = BenchClock.seconds(since: started)
        // Drain: until everything expected arrived, or nothing arrived for `drain` seconds.
        let expected = counters.expected.load(ordering: .relaxed)
        try await Drain.wait(load: load, expected: expected, idle: drain)
        let hub = monitor.end()
        let client = clientMonitor.end()
        let snapshot = try await load.collect()

        var result = BenchResult(scenario: scenario, variant: variant, target: endpoint.target, transport: pool.transport,
                                 connections: pool.readyCount, rooms: roomNames.count, payloadBytes: payload.size, mode: "full")
        switch mode {
        case .rate(let rate):
            result.mode = "rate"
            result.targetRate = rate
            result.extra["max_publish_lag_ms"] = Double(counters.maxLagMicros.load(ordering: .relaxed)) / 1000
        case .full(let window):
            result.extra["window_events"] = Double(window)
        }
        let end = snapshot.lastReceiptMicros > startedMicros ? snapshot.lastReceiptMicros : BenchClock.realtimeMicros()
        result.durationSeconds = max(publishSeconds, Double(end - startedMicros) / 1e6)
        result.published = counters.published.load(ordering: .relaxed)
        result.publishErrors = counters.errors.load(ordering: .relaxed)
        result.expected = expected
        result.received = snapshot.received
        result.duplicates = snapshot.duplicates
        result.missing = max(0, expected - snapshot.received)
        result.publishedPerSecond = Double(result.published) / publishSeconds
        result.deliveredPerSecond = result.durationSeconds > 0 ? Double(snapshot.received) / result.durationSeconds : 0
        result.latency = LatencySummary(snapshot.histogram)
        result.hub = hub
        result.clientCPUPercent = client?.cpuPercent
        // What the server spent per delivery and per long-poll answer (its CPU over the measured phase).
        if let hub, result.durationSeconds > 0 {
            let cpuMicros = hub.cpuPercent / 100 * result.durationSeconds * 1e6
            if snapshot.received > 0 { result.extra["hub_cpu_us_per_delivery"] = cpuMicros / Double(snapshot.received) }
            if snapshot.pollAnswers > 0 {
                result.extra["poll_answers"] = Double(snapshot.pollAnswers)
                result.extra["hub_cpu_us_per_poll"] = cpuMicros / Double(snapshot.pollAnswers)
            }
        }
        result.errors = snapshot.errors
        if pool.readyCount < pool.states.count {
            result.notes.append("\(pool.states.count - pool.readyCount) of \(pool.states.count) subscribers never got ready")
        }
        return result
    }
}

/// Short random run ids (8 hex digits).
enum RunID {
    static func make() -> String {
        String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
    }
}
