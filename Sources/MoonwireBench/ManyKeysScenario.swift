import Foundation
import NIOCore
import NIOHTTP1

/// Many-key events: `POST /publish` of events whose `data` is an object of N keys (`--keys`, e.g.
/// 1000,4000,16000), `--events` of each, one at a time, against a hub with plugins — by default the
/// shipped ones (`--plugins-dir`, default `./plugins`, with `--hub-binary`). Reports the hub's CPU
/// seconds per event (the work of one publish, plugins included) and the wall time per publish; a probe
/// in another room times message round trips meanwhile (the latency columns). Moonwire only.
enum ManyKeysScenario {
    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        guard options.target == .moonwire else { throw BenchError.invalid("manykeys publishes to Moonwire") }
        var plugins = options.pluginsDirectory ?? "plugins"
        if !plugins.isEmpty, !plugins.hasPrefix("/") { plugins = FileManager.default.currentDirectoryPath + "/" + plugins }
        if !plugins.isEmpty, options.hubBinary != nil, !FileManager.default.fileExists(atPath: plugins) {
            throw BenchError.invalid("plugins directory \(plugins) does not exist (--plugins-dir \"\" for none)")
        }
        return try await Bench.withServer(options, pluginsDirectory: plugins.isEmpty ? nil : plugins) { endpoint, pid in
            let load = LoadContext(endpoint: endpoint, threads: options.threads, payload: BenchPayload(runID: "0", size: 64))
            let runID = RunID.make()
            let room = "keys-\(runID)"
            let user = "keys-\(runID)"
            // POST /publish wants its sender present in the room.
            let member = try await WebSocketSubscriber.connect(
                load: load, loop: load.loop(for: 1), path: "/ws", state: SubscriberState(index: 1, room: 0),
                authFrame: WebSocketSubscriber.moonwireAuthFrame(user: user, rooms: [room])).get()
            let probe = try await RoundTripProbe.open(load: load, room: "probe-\(runID)", user: "probe-\(runID)")
            let connection = try await HTTPConnection.connect(endpoint, on: load.loop(for: 0))
            var results: [BenchResult] = []
            for keys in options.keys {
                let body = Self.body(room: room, user: user, keys: keys)
                options.log("manykeys: \(options.events) events of \(keys) keys (\(body.count) bytes)")
                probe.start()
                var cpu: [Double] = []
                var wall: [Double] = []
                var errors = ErrorTally()
                var published = 0
                for _ in 0..<max(1, options.events) {
                    let before = pid.flatMap { ProcessSampler.usage(of: $0) }
                    let started = BenchClock.monotonicNanos()
                    let reply = try await connection.request(.POST, "/publish", body: body)
                    wall.append(BenchClock.seconds(since: started))
                    if let pid, let before, let after = ProcessSampler.usage(of: pid) { cpu.append(after.cpuSeconds - before.cpuSeconds) }
                    if reply.status == 200 { published += 1 } else { errors.add("publish failed", "\(reply.status) \(reply.text.prefix(200))") }
                }
                var result = BenchResult(scenario: "manykeys", variant: "\(keys) keys", target: .moonwire, transport: nil,
                                         connections: 1, rooms: 1, payloadBytes: body.count, mode: "sequential")
                result.published = published
                result.publishErrors = max(0, options.events - published)
                result.errors = errors
                result.durationSeconds = wall.reduce(0, +)
                result.latency = probe.stop()
                result.extra["keys"] = Double(keys)
                result.extra["wall_seconds_per_event"] = wall.reduce(0, +) / Double(max(1, wall.count))
                result.extra["wall_seconds_max"] = wall.max() ?? 0
                if !cpu.isEmpty {
                    result.extra["hub_cpu_seconds_per_event"] = cpu.reduce(0, +) / Double(cpu.count)
                    result.extra["hub_cpu_microseconds_per_key"] = cpu.reduce(0, +) / Double(cpu.count) / Double(keys) * 1e6
                }
                result.extra["probe_max_ms"] = Double(result.latency.max) / 1000
                result.notes.append("plugins: \(plugins.isEmpty ? "none" : plugins)")
                result.notes.append("latency columns: a message round trip in another room, every 50 ms while the events were published")
                results.append(result)
            }
            connection.close()
            member.close()
            probe.close()
            try? await Task.sleep(nanoseconds: 300_000_000)
            await load.shutdown()
            return results
        }
    }

    /// `{"room":…,"user_id":…,"event_type":"message","data":{"k0":0,"k1":1,…}}`.
    static func body(room: String, user: String, keys: Int) -> [UInt8] {
        var body = Array(#"{"room":"\#(room)","user_id":"\#(user)","event_type":"message","data":{"#.utf8)
        body.reserveCapacity(keys * 16 + 128)
        for key in 0..<keys {
            if key > 0 { body.append(UInt8(ascii: ",")) }
            body += Array("\"k\(key)\":\(key)".utf8)
        }
        body += Array("}}".utf8)
        return body
    }
}
