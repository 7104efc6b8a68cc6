/// Fan-out: one room, N subscribers on one transport, one or more HTTP publishers at a fixed rate or at
/// full speed. Measures delivered events per second and publish-to-receive latency.
enum FanoutScenario {
    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        try await Bench.withServer(options) { endpoint, pid in
            let load = LoadContext(endpoint: endpoint, threads: options.threads, payload: BenchPayload(runID: "0", size: options.payloadBytes))
            let runID = RunID.make()
            let count = options.subscribers ?? 1000
            options.log("fanout: opening \(count) \(options.transport.displayName) subscribers on \(endpoint.target.rawValue) \(endpoint.baseURL)")
            let pool = await SubscriberPool.open(
                load: load, transport: options.transport, roomNames: ["bench-\(runID)"], count: count, roomOf: { _ in 0 },
                runID: runID, distinctUsers: options.distinctUsers, concurrency: options.connectConcurrency, log: options.log)
            let seen = await pool.awaitServerCount()
            options.log("fanout: \(pool.readyCount) subscribers ready in \(String(format: "%.1f", pool.connectSeconds)) s (server counts \(seen.map(String.init) ?? "?"))")
            let phase = PublishPhase(
                scenario: "fanout", mode: Bench.mode(options, defaultWindow: 32), payloadBytes: options.payloadBytes,
                duration: options.duration, drain: options.drain, publishers: options.publishers, hubPID: pid)
            var result: BenchResult
            do {
                result = try await phase.run(pool: pool, log: options.log)
            } catch {
                pool.close()
                await load.shutdown()
                throw error
            }
            result.extra["connect_seconds"] = pool.connectSeconds
            pool.close()
            try? await Task.sleep(nanoseconds: 300_000_000)
            await load.shutdown()
            return [result]
        }
    }
}
