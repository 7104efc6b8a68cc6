import ArgumentParser
import Foundation
import MoonwireCore
import MoonwirePlugins

extension PluginsCommand {
    /// `moonwire plugins bench [DIR]`: what each publish and delivery costs in the plugins of a folder,
    /// measured in this process on one thread (no server, no network, no waiting for the plugin's VM); with
    /// `--threads`, also how many calls per second several threads get through together.
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time the plugins' on_publish chain and on_deliver filters per call (median, p99, mean), in process.",
            discussion: """
                Loads the folder as the hub would, then calls the on_publish chain and the on_deliver filters \
                --calls times each with one message event (data: {"text", "pad"} of --payload bytes) from an HTTP \
                publisher, to a WebSocket recipient in the room (the same event each time, as in a fan-out). Prints \
                the time of each call through the hub's hooks: the whole chain, every plugin that has the hook.                 With --threads N (N > 1), then runs the same calls from 1 and from N threads at once and prints                 the calls per second of each and their ratio: with a plugin's calls spread over its Lua states                 (--states), N threads get through up to N times as many.
                """)

        @Argument(help: "The plugins folder.")
        var directory = "plugins"

        @Option(help: "Calls per hook (and per throughput run).")
        var calls = 100_000

        @Option(help: "Bytes of padding in the event's data.")
        var payload = 100

        @Option(name: .customLong("evict-mib"), help: "Between calls, write this many MiB (0: none) to push the plugins' state out of the CPU caches, as a busy hub's other work does (8: past this machine's L2; 64: past its L3). Use fewer --calls.")
        var evictMiB = 0

        @Option(help: "Threads calling at once for the throughput run (1: no throughput run).")
        var threads = 1

        @Option(help: "Lua states per plugin (plugins.states; 0: one per CPU core).")
        var states = 0

        @Flag(help: "JSON output.")
        var json = false

        func run() async throws {
            let host = PluginHost(options: PluginOptions(directory: directory, watch: false, statesPerPlugin: states))
            let hub = Hub(configuration: HubConfiguration(), broker: MemoryBroker(historySize: 100), hooks: host)
            host.attach(hub)
            let report = host.reload(trigger: "bench")
            for failure in report.failed {
                FileHandle.standardError.write(Data("moonwire: \(failure.plugin): \(failure.message)\n".utf8))
            }
            guard report.succeeded else { throw ExitCode(1) }
            let loaded = host.plugins.map(\.name)
            let data: JSONValue = ["text": "hello from the benchmark", "pad": .string(String(repeating: "x", count: max(0, payload)))]
            let publisher = PublisherInfo(connection: nil, transport: .http, userID: "bench")
            let recipient = ConnectionInfo(
                id: "bench-recipient", transport: .webSocket, identity: Identity(userID: "reader"), remoteAddress: "127.0.0.1:40000",
                rooms: ["bench"])
            // One event for every call: a fan-out hands the same event to every recipient's on_deliver.
            let event = Event(type: .message, userID: "bench", roomID: "bench", data: data)
            let stored = Event(type: .message, userID: "bench", roomID: "bench", data: data, id: EventID(1))
            let evict: (() -> Void)? = evictMiB > 0 ? Self.cacheEvictor(megabytes: evictMiB) : nil
            let publish = await Self.time(calls, between: evict) { _ in _ = await host.filterPublish(event, from: publisher) }
            let deliver = host.filtersDelivery
                ? await Self.time(calls, between: evict) { _ in _ = await host.filterDelivery(stored, to: recipient).decision } : nil
            var throughput: [(hook: String, single: Double, parallel: Double)] = []
            if threads > 1 {
                // Publishers of many users, as in a busy hub: per-user keys (rate limits) spread, and fit the store quota.
                let publishers = (0..<8_000).map { PublisherInfo(connection: nil, transport: .http, userID: "bench\($0)") }
                let publishOne: @Sendable (Int) async -> Void = { _ = await host.filterPublish(event, from: publishers[$0 % publishers.count]) }
                throughput.append(
                    ("on_publish", await Self.callsPerSecond(calls, tasks: 1, publishOne), await Self.callsPerSecond(calls, tasks: threads, publishOne)))
                if host.filtersDelivery {
                    let deliverOne: @Sendable (Int) async -> Void = { _ in _ = await host.filterDelivery(stored, to: recipient).decision }
                    throughput.append(
                        ("on_deliver", await Self.callsPerSecond(calls, tasks: 1, deliverOne), await Self.callsPerSecond(calls, tasks: threads, deliverOne)))
                }
            }
            let stateCounts = host.plugins.map { "\($0.name)=\($0.stateCount)" }.joined(separator: ", ")
            if json {
                var object: JSONObject = ["plugins": .array(loaded.map { .string($0) }), "calls": .int(Int64(calls)), "evict_mib": .int(Int64(evictMiB))]
                object["on_publish"] = publish.json
                object["on_deliver"] = deliver?.json ?? .null
                object["states"] = .object(JSONObject(host.plugins.map { ($0.name, .int(Int64($0.stateCount))) }))
                if threads > 1 {
                    object["threads"] = .int(Int64(threads))
                    object["throughput"] = .object(JSONObject(throughput.map {
                        ($0.hook, ["calls_per_second_1_thread": .double($0.single), "calls_per_second": .double($0.parallel), "ratio": .double($0.parallel / $0.single)])
                    }))
                }
                print(JSONWriter.string(.object(object)))
            } else {
                print("plugins: \(loaded.isEmpty ? "(none)" : loaded.joined(separator: ", ")); \(calls) calls per hook, one thread\(evictMiB > 0 ? ", \(evictMiB) MiB written between calls" : "")")
                print("hook        median µs  p99 µs  mean µs")
                print(publish.line("on_publish"))
                if let deliver { print(deliver.line("on_deliver")) } else { print("on_deliver  (no filter)") }
                if threads > 1 {
                    print("\nthroughput, \(calls) calls per run; Lua states: \(stateCounts)")
                    print("hook        1 thread calls/s  \(threads) threads calls/s  ratio")
                    for row in throughput {
                        print(
                            row.hook.padding(toLength: 12, withPad: " ", startingAt: 0)
                                + String(format: "%16.0f  %17.0f  %5.2f", row.single, row.parallel, row.parallel / row.single))
                    }
                }
            }
        }

        struct Timing {
            var sorted: [UInt64]
            var median: Double { Double(sorted[sorted.count / 2]) / 1000 }
            var p99: Double { Double(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]) / 1000 }
            var mean: Double { Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000 }
            var json: JSONValue { ["median_us": .double(median), "p99_us": .double(p99), "mean_us": .double(mean)] }
            func line(_ name: String) -> String {
                name.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + String(format: "%9.2f  %6.2f  %7.2f", median, p99, mean)
            }
        }

        /// Calls `body` `count` times in all (with the call's index), spread over `tasks` tasks started
        /// together (Swift runs them on as many threads as there are cores); calls per second.
        static func callsPerSecond(_ count: Int, tasks: Int, _ body: @escaping @Sendable (Int) async -> Void) async -> Double {
            for index in 0..<max(1, count / 10) { await body(index) }
            let perTask = max(1, count / max(1, tasks))
            let start = MonotonicClock.nanoseconds()
            await withTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for index in 0..<perTask { await body(task * perTask + index) }
                    }
                }
            }
            let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
            return Double(perTask * tasks) / seconds
        }

        /// Times `body` `count` times (after a tenth as warm-up), nanoseconds each; `between` runs before
        /// each timed call, untimed.
        static func time(_ count: Int, between: (() -> Void)? = nil, _ body: (Int) async -> Void) async -> Timing {
            let count = max(1, count)
            for index in 0..<max(1, count / 10) { await body(index) }
            var times: [UInt64] = []
            times.reserveCapacity(count)
            for index in 0..<count {
                between?()
                let start = MonotonicClock.nanoseconds()
                await body(index)
                times.append(MonotonicClock.nanoseconds() - start)
            }
            return Timing(sorted: times.sorted())
        }

        /// Writes `megabytes` MiB, pushing the plugin's state out of the caches that are smaller.
        static func cacheEvictor(megabytes: Int) -> () -> Void {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, megabytes) << 20, alignment: 64)
            var round: UInt8 = 0
            return {
                round &+= 1
                for offset in stride(from: 0, to: buffer.count, by: 64) { buffer[offset] = round }
            }
        }
    }
}
