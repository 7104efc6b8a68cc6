import Foundation

/// Plugins: the fan-out run (WebSocket by default) repeated on a fresh hub for each plugin set — none, one
/// `on_publish` hook, three `on_publish` hooks, one `on_deliver` filter — to show what the Lua layer costs
/// per event and per recipient. Needs `--hub-binary`: each variant starts its own hub with a temporary
/// plugins directory.
enum PluginsScenario {
    struct Variant {
        var name: String
        var files: [String: String]
    }

    static let variants: [Variant] = [
        Variant(name: "none", files: [:]),
        Variant(name: "on_publish x1", files: ["bench_publish_1.lua": BenchPlugins.onPublish("bench_publish_1")]),
        Variant(name: "on_publish x3", files: [
            "bench_publish_1.lua": BenchPlugins.onPublish("bench_publish_1"),
            "bench_publish_2.lua": BenchPlugins.onPublish("bench_publish_2"),
            "bench_publish_3.lua": BenchPlugins.onPublish("bench_publish_3"),
        ]),
        Variant(name: "on_deliver", files: ["bench_deliver.lua": BenchPlugins.onDeliver("bench_deliver")]),
    ]

    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        guard options.target == .moonwire else { throw BenchError.invalid("plugins runs against Moonwire only") }
        guard options.hubBinary != nil else {
            throw BenchError.invalid("plugins needs --hub-binary (each variant starts a hub with its own plugins directory)")
        }
        var results: [BenchResult] = []
        var baseline: Double?
        for variant in variants {
            let directory: String? = variant.files.isEmpty ? nil : try BenchPlugins.directory(variant.files)
            defer { if let directory { try? FileManager.default.removeItem(atPath: directory) } }
            options.log("plugins: variant \(variant.name)")
            var result = try await Bench.withServer(options, pluginsDirectory: directory) { endpoint, pid in
                var fanout = options
                fanout.hubBinary = nil
                fanout.url = endpoint.baseURL
                fanout.hubPID = pid
                var result = try await FanoutScenario.run(fanout)[0]
                if directory != nil {
                    let load = LoadContext(endpoint: endpoint, threads: 1, payload: BenchPayload(runID: "0", size: 64))
                    if let reply = try? await HTTPConnection.fetch(endpoint, on: load.loops[0], .GET, "/api/plugins"), reply.status == 200 {
                        for hook in ["on_publish", "on_deliver"] {
                            let stats = BenchPlugins.hookStatistics(reply, hook: hook)
                            if stats.calls > 0 {
                                result.extra["\(hook)_calls"] = stats.calls
                                result.extra["\(hook)_mean_us_per_call"] = stats.seconds / stats.calls * 1e6
                                result.extra["\(hook)_median_us_per_call"] = stats.medianMicros
                                result.extra["\(hook)_p99_us_per_call"] = stats.p99Micros
                            }
                        }
                    }
                    await load.shutdown()
                }
                return result
            }
            result.scenario = "plugins"
            result.variant = variant.name
            if let baseline, baseline > 0 {
                result.extra["throughput_vs_none"] = result.deliveredPerSecond / baseline
            } else {
                baseline = result.deliveredPerSecond
            }
            results.append(result)
        }
        return results
    }
}
