import Foundation

/// The fan-out matrix against Moonwire and Nchan in one run (`make bench-vs-nchan`): for each transport
/// and subscriber count, each server in turn gets the subscribers once, then one phase per payload size
/// and mode (fixed rate, full speed) on them. The fixed rate is `compareDeliveriesPerSecond` divided by
/// the subscribers, so that both subscriber counts see the same delivery load.
enum CompareScenario {
    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        let servers: [(BenchTarget, String, Int32?)] = [
            (.moonwire, options.moonwireURL, options.moonwirePID),
            (.nchan, options.nchanURL, options.nchanPID),
        ]
        for transport in options.compareTransports {
            for subscribers in options.compareSubscribers {
                for (target, url, pid) in servers {
                    let endpoint = try HubEndpoint(target: target, url: url, apiKey: options.apiKey)
                    let load = LoadContext(endpoint: endpoint, threads: options.threads, payload: BenchPayload(runID: "0", size: 100))
                    let runID = RunID.make()
                    options.log("compare: \(target.rawValue) \(transport.displayName): opening \(subscribers) subscribers")
                    let pool = await SubscriberPool.open(
                        load: load, transport: transport, roomNames: ["bench-\(runID)"], count: subscribers, roomOf: { _ in 0 },
                        runID: runID, distinctUsers: options.distinctUsers, concurrency: options.connectConcurrency, log: options.log)
                    let counted = await pool.awaitServerCount()
                    options.log("compare: \(pool.readyCount) ready in \(String(format: "%.1f", pool.connectSeconds)) s (server counts \(counted.map(String.init) ?? "?"))")
                    for mode in options.compareModes {
                        for payload in options.comparePayloads {
                            let phaseMode: PublishPhase.Mode = mode == "rate"
                                ? .rate(max(1, (options.compareDeliveriesPerSecond / Double(max(1, subscribers))).rounded()))
                                : .full(window: Bench.window(options, default: 32))
                            let phase = PublishPhase(
                                scenario: "fanout", mode: phaseMode, payloadBytes: payload, duration: options.duration,
                                drain: options.drain, publishers: options.publishers, hubPID: pid)
                            do {
                                var result = try await phase.run(pool: pool, log: options.log)
                                result.extra["connect_seconds"] = pool.connectSeconds
                                options.log(
                                    "compare: \(target.rawValue) \(transport.rawValue) \(subscribers) \(payload) B \(mode): "
                                        + "\(Int(result.deliveredPerSecond)) deliveries/s, p99 \(Double(result.latency.p99) / 1000) ms, "
                                        + "missing \(result.missing), duplicates \(result.duplicates)")
                                results.append(result)
                            } catch {
                                options.log("compare: \(target.rawValue) \(transport.rawValue) \(subscribers) \(payload) B \(mode) failed: \(error)")
                            }
                            // Let queues settle between phases.
                            try? await Task.sleep(nanoseconds: 500_000_000)
                        }
                    }
                    pool.close()
                    try? await Task.sleep(nanoseconds: 1_000_000_000)
                    await load.shutdown()
                }
            }
        }
        return results
    }
}
