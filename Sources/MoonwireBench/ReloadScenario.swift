import Foundation
import Synchronization

/// Reload under load: a fan-out at a fixed rate while the plugins are reloaded every `reloadInterval`
/// seconds through `POST /api/plugins/reload` (each time with a changed source, so that the plugin really
/// is replaced). Every event must still reach every subscriber exactly once: missing counts the drops.
/// Starts its own hub with `--hub-binary`, or uses a running one whose plugins directory is `--plugins-dir`.
enum ReloadScenario {
    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        guard options.target == .moonwire else { throw BenchError.invalid("reload runs against Moonwire only") }
        let owned: String?
        let directory: String
        if let given = options.pluginsDirectory, options.hubBinary == nil {
            owned = nil
            directory = given
            try BenchPlugins.reloading(version: 1).write(toFile: directory + "/bench_reload.lua", atomically: true, encoding: .utf8)
        } else {
            guard options.hubBinary != nil else {
                throw BenchError.invalid("reload needs --hub-binary, or --plugins-dir with the plugins directory of the hub at --url")
            }
            directory = try BenchPlugins.directory(["bench_reload.lua": BenchPlugins.reloading(version: 1)])
            owned = directory
        }
        defer {
            if let owned { try? FileManager.default.removeItem(atPath: owned) } else { try? FileManager.default.removeItem(atPath: directory + "/bench_reload.lua") }
        }
        return try await Bench.withServer(options, pluginsDirectory: directory) { endpoint, pid in
            let load = LoadContext(endpoint: endpoint, threads: options.threads, payload: BenchPayload(runID: "0", size: options.payloadBytes))
            if owned == nil {
                // A running hub: load the plugin before the run.
                _ = try await HTTPConnection.fetch(endpoint, on: load.loops[0], .POST, "/api/plugins/reload")
            }
            let runID = RunID.make()
            let count = options.subscribers ?? 200
            options.log("reload: opening \(count) \(options.transport.displayName) subscribers")
            let pool = await SubscriberPool.open(
                load: load, transport: options.transport, roomNames: ["bench-\(runID)"], count: count, roomOf: { _ in 0 },
                runID: runID, distinctUsers: options.distinctUsers, concurrency: options.connectConcurrency, log: options.log)
            await pool.awaitServerCount()
            let reloads = Atomic<Int>(0)
            let reloadFailures = Atomic<Int>(0)
            let reloadMicros = Atomic<Int>(0)
            let maxReloadMicros = Atomic<Int>(0)
            let reloader = Task {
                var version = 1
                guard let connection = try? await HTTPConnection.connect(endpoint, on: load.loops[0]) else { return }
                defer { connection.close() }
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: UInt64(options.reloadInterval * 1e9))
                    if Task.isCancelled { break }
                    version += 1
                    try? BenchPlugins.reloading(version: version).write(toFile: directory + "/bench_reload.lua", atomically: true, encoding: .utf8)
                    let begin = BenchClock.monotonicNanos()
                    let reply = try? await connection.request(.POST, "/api/plugins/reload")
                    let micros = Int((BenchClock.monotonicNanos() - begin) / 1000)
                    if let reply, reply.status == 200, reply.text.contains("bench_reload") {
                        reloads.wrappingAdd(1, ordering: .relaxed)
                        reloadMicros.wrappingAdd(micros, ordering: .relaxed)
                        if micros > maxReloadMicros.load(ordering: .relaxed) { maxReloadMicros.store(micros, ordering: .relaxed) }
                    } else {
                        reloadFailures.wrappingAdd(1, ordering: .relaxed)
                        load.error("reload failed", reply.map { "\($0.status) \($0.text.prefix(200))" } ?? "no answer")
                    }
                }
            }
            let phase = PublishPhase(
                scenario: "reload", mode: Bench.mode(options, defaultWindow: 32), payloadBytes: options.payloadBytes,
                duration: options.duration, drain: options.drain, publishers: options.publishers, hubPID: pid)
            var result: BenchResult
            do {
                result = try await phase.run(pool: pool, log: options.log)
            } catch {
                reloader.cancel()
                pool.close()
                await load.shutdown()
                throw error
            }
            reloader.cancel()
            _ = await reloader.value
            let done = reloads.load(ordering: .relaxed)
            result.extra["reloads"] = Double(done)
            result.extra["reload_failures"] = Double(reloadFailures.load(ordering: .relaxed))
            if done > 0 {
                result.extra["reload_mean_ms"] = Double(reloadMicros.load(ordering: .relaxed)) / Double(done) / 1000
                result.extra["reload_max_ms"] = Double(maxReloadMicros.load(ordering: .relaxed)) / 1000
            }
            result.notes.append("drops = missing (\(result.missing)), duplicates = \(result.duplicates), over \(done) reloads")
            pool.close()
            try? await Task.sleep(nanoseconds: 300_000_000)
            await load.shutdown()
            return [result]
        }
    }
}
