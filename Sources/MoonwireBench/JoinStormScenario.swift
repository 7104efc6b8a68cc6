import Foundation
import NIOCore
import Synchronization

/// Join storm: `--subscribers` WebSocket clients, each a user of its own, join one room as fast as
/// `--connect-concurrency` allows and stay until the announcements settle; then all leave at once. A
/// probe in another room times a message round trip every 50 ms meanwhile. Reports, per phase, the
/// announcements (`user_joined`, `user_left`, `presence_diff`) the clients received, the hub's CPU
/// seconds, and the probe's round trips (the latency columns). Moonwire only.
enum JoinStormScenario {
    /// Announcements received, all clients together.
    final class Tally: Sendable {
        let events = Atomic<Int>(0)
        let bytes = Atomic<Int>(0)
        /// Monotonic ns of the last announcement.
        let last = Atomic<UInt64>(0)

        func count(_ bytes: UnsafeRawBufferPointer) {
            guard Bytes.find("\"event_type\":\"user_joined\"", in: bytes) != nil
                || Bytes.find("\"event_type\":\"user_left\"", in: bytes) != nil
                || Bytes.find("\"event_type\":\"presence_diff\"", in: bytes) != nil
            else { return }
            events.add(1, ordering: .relaxed)
            self.bytes.add(bytes.count, ordering: .relaxed)
            last.store(BenchClock.monotonicNanos(), ordering: .relaxed)
        }

        func reset() {
            events.store(0, ordering: .relaxed)
            bytes.store(0, ordering: .relaxed)
            last.store(BenchClock.monotonicNanos(), ordering: .relaxed)
        }
    }

    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        guard options.target == .moonwire else { throw BenchError.invalid("joinstorm measures Moonwire's presence announcements") }
        return try await Bench.withServer(options) { endpoint, pid in
            let load = LoadContext(endpoint: endpoint, threads: options.threads, payload: BenchPayload(runID: "0", size: 64))
            let runID = RunID.make()
            let room = "storm-\(runID)"
            let count = options.subscribers ?? 1000
            let fans = Tally()
            let watcher = Tally()
            let probe = try await RoundTripProbe.open(load: load, room: "probe-\(runID)", user: "probe-\(runID)")
            let watching = try await connect(load: load, index: 0, user: "watcher-\(runID)", room: room, tally: watcher)
            var results: [BenchResult] = []

            // Join.
            fans.reset()
            watcher.reset()
            let joinUsage = pid.flatMap { ProcessSampler.usage(of: $0) }
            let joinStarted = BenchClock.monotonicNanos()
            probe.start()
            options.log("joinstorm: \(count) users join \(room)")
            let clients = await openAll(load: load, count: count, runID: runID, room: room, tally: fans,
                                        concurrency: options.connectConcurrency, log: options.log)
            let joined = BenchClock.seconds(since: joinStarted)
            await settle(fans, watcher, quiet: 2.0, limit: options.drain * 12)
            results.append(result("join", options: options, connections: clients.count, started: joinStarted, pid: pid, usage: joinUsage,
                                  probe: probe.stop(), fans: fans, watcher: watcher, connectSeconds: joined))
            options.log("joinstorm: joined in \(String(format: "%.2f", joined)) s; \(fans.events.load(ordering: .relaxed)) announcements")

            // Leave.
            fans.reset()
            watcher.reset()
            let leaveUsage = pid.flatMap { ProcessSampler.usage(of: $0) }
            let leaveStarted = BenchClock.monotonicNanos()
            probe.start()
            for client in clients { client.close() }
            await settle(watcher, watcher, quiet: 2.0, limit: options.drain * 12)
            results.append(result("leave", options: options, connections: clients.count, started: leaveStarted, pid: pid, usage: leaveUsage,
                                  probe: probe.stop(), fans: nil, watcher: watcher, connectSeconds: nil))
            watching.close()
            probe.close()
            try? await Task.sleep(nanoseconds: 500_000_000)
            await load.shutdown()
            return results
        }
    }

    private static func connect(load: LoadContext, index: Int, user: String, room: String, tally: Tally) async throws -> WebSocketSubscriber {
        let state = SubscriberState(index: index, room: 0)
        return try await WebSocketSubscriber.connect(
            load: load, loop: load.loop(for: index), path: "/ws", state: state,
            authFrame: WebSocketSubscriber.moonwireAuthFrame(user: user, rooms: [room])
        ) { subscriber in
            subscriber.onOtherFrame = { bytes in tally.count(bytes) }
        }.get()
    }

    /// Opens `count` clients, `concurrency` at a time; returns those that got ready.
    private static func openAll(load: LoadContext, count: Int, runID: String, room: String, tally: Tally, concurrency: Int,
                                log: @Sendable (String) -> Void) async -> [WebSocketSubscriber] {
        var clients: [WebSocketSubscriber] = []
        var failures = 0
        await withTaskGroup(of: WebSocketSubscriber?.self) { group in
            var next = 0
            func launch() {
                let index = next
                next += 1
                group.addTask {
                    try? await connect(load: load, index: index + 1, user: "fan-\(runID)-\(index)", room: room, tally: tally)
                }
            }
            while next < min(count, max(1, concurrency)) { launch() }
            for await client in group {
                if let client { clients.append(client) } else { failures += 1 }
                if next < count { launch() }
            }
        }
        if failures > 0 { log("joinstorm: \(failures) clients could not connect") }
        return clients
    }

    /// Waits until neither tally has grown for `quiet` seconds (or `limit` seconds have passed).
    private static func settle(_ a: Tally, _ b: Tally, quiet: Double, limit: Double) async {
        let started = BenchClock.monotonicNanos()
        while BenchClock.seconds(since: started) < limit {
            let last = max(a.last.load(ordering: .relaxed), b.last.load(ordering: .relaxed))
            if Double(BenchClock.monotonicNanos() &- last) / 1e9 >= quiet { return }
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
    }

    private static func result(_ phase: String, options: BenchOptions, connections: Int, started: UInt64, pid: Int32?,
                               usage: ProcessUsage?, probe: LatencySummary, fans: Tally?, watcher: Tally,
                               connectSeconds: Double?) -> BenchResult {
        // The settling time (no announcement for 2 s) is not part of the phase.
        let elapsed = max(0.001, BenchClock.seconds(since: started) - 2.0)
        var result = BenchResult(scenario: "joinstorm", variant: phase, target: .moonwire, transport: .ws,
                                 connections: connections, rooms: 1, payloadBytes: 0, mode: "full")
        result.durationSeconds = elapsed
        result.latency = probe
        if let pid, let usage, let now = ProcessSampler.usage(of: pid) {
            let cpu = now.cpuSeconds - usage.cpuSeconds
            result.extra["hub_cpu_seconds"] = cpu
            result.hub = HubUsage(pid: Int(pid), processes: now.processes, cpuPercent: cpu / elapsed * 100,
                                  rssStartBytes: usage.rssBytes, rssPeakBytes: max(usage.rssBytes, now.rssBytes), rssEndBytes: now.rssBytes)
        }
        if let fans {
            result.extra["announcements_received"] = Double(fans.events.load(ordering: .relaxed))
            result.extra["announcement_bytes_received"] = Double(fans.bytes.load(ordering: .relaxed))
            result.extra["announcements_per_client"] = Double(fans.events.load(ordering: .relaxed)) / Double(max(1, connections))
        }
        result.extra["watcher_announcements"] = Double(watcher.events.load(ordering: .relaxed))
        if let connectSeconds { result.extra["connect_seconds"] = connectSeconds }
        result.extra["probe_round_trips"] = Double(probe.count)
        result.extra["probe_max_ms"] = Double(probe.max) / 1000
        result.notes.append("latency columns: the probe's message round trip in another room, every 50 ms during the phase")
        return result
    }
}
