/// Many rooms: R rooms with one subscriber each; publishers spread events over the rooms in turn.
/// Measures the cost of many small fan-outs (room lookup, per-room state) rather than one big one.
enum RoomsScenario {
    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        try await Bench.withServer(options) { endpoint, pid in
            let load = LoadContext(endpoint: endpoint, threads: options.threads, payload: BenchPayload(runID: "0", size: options.payloadBytes))
            let runID = RunID.make()
            let rooms = max(1, options.rooms)
            let names = (0..<rooms).map { "bench-\(runID)-\($0)" }
            options.log("rooms: opening \(rooms) \(options.transport.displayName) subscribers, one per room")
            let pool = await SubscriberPool.open(
                load: load, transport: options.transport, roomNames: names, count: rooms, roomOf: { $0 },
                runID: runID, distinctUsers: options.distinctUsers, concurrency: options.connectConcurrency, log: options.log)
            if options.transport == .poll { try await Task.sleep(nanoseconds: 1_000_000_000) }
            options.log("rooms: \(pool.readyCount) subscribers ready in \(String(format: "%.1f", pool.connectSeconds)) s")
            var phase = PublishPhase(
                scenario: "rooms", mode: Bench.mode(options, defaultWindow: max(32, rooms / 10)), payloadBytes: options.payloadBytes,
                duration: options.duration, drain: options.drain, publishers: max(options.publishers, 16), hubPID: pid)
            phase.roomOf = { $0 % rooms }
            let result: BenchResult
            do {
                var measured = try await phase.run(pool: pool, log: options.log)
                measured.extra["connect_seconds"] = pool.connectSeconds
                result = measured
            } catch {
                pool.close()
                await load.shutdown()
                throw error
            }
            pool.close()
            try? await Task.sleep(nanoseconds: 300_000_000)
            await load.shutdown()
            return [result]
        }
    }
}
