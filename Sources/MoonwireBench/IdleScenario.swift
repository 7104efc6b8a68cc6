import Foundation

/// Idle connections: N WebSocket connections held (one room, one shared user), the server's resident
/// memory read before and after, divided by N. A few events are then published to check that every held
/// connection still receives.
enum IdleScenario {
    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        try await Bench.withServer(options) { endpoint, pid in
            let load = LoadContext(endpoint: endpoint, threads: options.threads, payload: BenchPayload(runID: "0", size: options.payloadBytes))
            let runID = RunID.make()
            let count = options.subscribers ?? 15_000
            let before = pid.flatMap { ProcessSampler.usage(of: $0) }
            let clientBefore = ProcessSampler.usage(of: getpid(), descendants: false)
            options.log("idle: opening \(count) \(options.transport.displayName) connections")
            let pool = await SubscriberPool.open(
                load: load, transport: options.transport, roomNames: ["bench-\(runID)"], count: count, roomOf: { _ in 0 },
                runID: runID, distinctUsers: options.distinctUsers, concurrency: options.connectConcurrency, log: options.log)
            await pool.awaitServerCount(timeout: 10)
            options.log("idle: \(pool.readyCount) connections ready in \(String(format: "%.1f", pool.connectSeconds)) s; holding \(options.hold) s")
            try await Task.sleep(nanoseconds: UInt64(max(0, options.hold) * 1e9))
            let after = pid.flatMap { ProcessSampler.usage(of: $0) }
            let clientAfter = ProcessSampler.usage(of: getpid(), descendants: false)
            // Check the connections are alive: a few events, each to be received by every one of them.
            let phase = PublishPhase(
                scenario: "idle", mode: .rate(Double(max(1, options.verifyEvents)) / 0.5), payloadBytes: options.payloadBytes,
                duration: 0.5, drain: options.drain, publishers: 1, hubPID: pid)
            var result = try await phase.run(pool: pool, log: options.log)
            result.mode = "hold"
            result.targetRate = nil
            result.extra["connect_seconds"] = pool.connectSeconds
            result.extra["connects_per_second"] = Double(pool.readyCount) / max(0.001, pool.connectSeconds)
            if let before, let after, pool.readyCount > 0 {
                result.extra["hub_rss_before_mb"] = Double(before.rssBytes) / 1_048_576
                result.extra["hub_rss_held_mb"] = Double(after.rssBytes) / 1_048_576
                result.extra["hub_rss_per_connection_bytes"] = Double(after.rssBytes - before.rssBytes) / Double(pool.readyCount)
            } else {
                result.notes.append("no hub pid: memory per connection not measured (give --hub-pid or --hub-binary)")
            }
            if let clientBefore, let clientAfter, pool.readyCount > 0 {
                result.extra["client_rss_per_connection_bytes"] = Double(clientAfter.rssBytes - clientBefore.rssBytes) / Double(pool.readyCount)
            }
            pool.close()
            try? await Task.sleep(nanoseconds: 500_000_000)
            await load.shutdown()
            return [result]
        }
    }
}
