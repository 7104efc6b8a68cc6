import Foundation
import Histogram
import NIOCore
import Synchronization

/// Connection storm: WebSocket connects at a rising rate (a step per `stepSeconds`, the rate multiplied
/// by `rateFactor` each step) until connects fail or time out, or the rate or connection cap is reached.
/// A connect counts from the TCP connect to "ready" (Moonwire: the pong after the auth frame and the join;
/// Nchan: the upgrade). Each connection is closed once ready unless `holdConnections` is set.
enum StormScenario {
    final class Step: @unchecked Sendable {
        let attempted = Atomic<Int>(0)
        let succeeded = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let lock = NSLock()
        var histogram = Recorder.makeHistogram()
        var errors = ErrorTally()

        func record(micros: UInt64) {
            lock.lock()
            _ = histogram.record(micros)
            lock.unlock()
        }

        func error(_ message: String) {
            lock.lock()
            errors.add("connect failed", message)
            lock.unlock()
        }
    }

    static func run(_ options: BenchOptions) async throws -> [BenchResult] {
        try await Bench.withServer(options) { endpoint, pid in
            let load = LoadContext(endpoint: endpoint, threads: options.threads, payload: BenchPayload(runID: "0", size: 64))
            let runID = RunID.make()
            let room = "bench-\(runID)"
            var results: [BenchResult] = []
            var held: [WebSocketSubscriber] = []
            let heldLock = NSLock()
            var rate = max(1, options.startRate)
            var total = 0
            var step = 0
            var bestRate = 0.0
            while rate <= options.maxRate, total < options.maxConnections {
                step += 1
                let count = min(Int(rate * options.stepSeconds), options.maxConnections - total)
                let state = Step()
                let monitor = UsageMonitor(pid: pid)
                monitor.begin()
                let started = BenchClock.monotonicNanos()
                options.log("storm: step \(step): \(count) connects at \(Int(rate))/s")
                await withTaskGroup(of: Void.self) { group in
                    for index in 0..<count {
                        let due = started + UInt64(Double(index) / rate * 1e9)
                        let now = BenchClock.monotonicNanos()
                        if due > now { try? await Task.sleep(nanoseconds: due - now) }
                        let number = total + index
                        group.addTask {
                            state.attempted.wrappingAdd(1, ordering: .relaxed)
                            let begin = BenchClock.monotonicNanos()
                            let subscriber = SubscriberState(index: number, room: 0)
                            let auth = endpoint.target == .moonwire
                                ? WebSocketSubscriber.moonwireAuthFrame(user: "storm-\(runID)", rooms: [room]) : nil
                            let path = endpoint.subscribePath(.ws, room: room, user: "", client: "")
                            let loop = load.loop(for: number)
                            let future = WebSocketSubscriber.connect(load: load, loop: loop, path: path, state: subscriber, authFrame: auth)
                            do {
                                let client = try await withThrowingTaskGroup(of: WebSocketSubscriber?.self) { race in
                                    race.addTask { try await future.get() }
                                    race.addTask {
                                        try await Task.sleep(nanoseconds: 5_000_000_000)
                                        return nil
                                    }
                                    let first = try await race.next()!
                                    race.cancelAll()
                                    return first
                                }
                                guard let client else {
                                    state.failed.wrappingAdd(1, ordering: .relaxed)
                                    state.error("no answer within 5 s")
                                    future.whenSuccess { $0.close() }
                                    return
                                }
                                state.succeeded.wrappingAdd(1, ordering: .relaxed)
                                state.record(micros: (BenchClock.monotonicNanos() - begin) / 1000)
                                if options.holdConnections {
                                    heldLock.withLock { held.append(client) }
                                } else {
                                    client.close()
                                }
                            } catch {
                                state.failed.wrappingAdd(1, ordering: .relaxed)
                                state.error("\(error)")
                            }
                        }
                    }
                }
                let elapsed = BenchClock.seconds(since: started)
                total += count
                let succeeded = state.succeeded.load(ordering: .relaxed)
                let failed = state.failed.load(ordering: .relaxed)
                var result = BenchResult(scenario: "storm", variant: "step \(step)", target: endpoint.target, transport: .ws,
                                         connections: succeeded, rooms: 1, payloadBytes: 0, mode: "rate")
                result.targetRate = rate
                result.durationSeconds = elapsed
                result.latency = LatencySummary(state.histogram)
                result.hub = monitor.end()
                result.errors = state.errors
                result.extra["connects_attempted"] = Double(count)
                result.extra["connects_succeeded"] = Double(succeeded)
                result.extra["connects_failed"] = Double(failed)
                result.extra["connects_per_second"] = Double(succeeded) / elapsed
                result.notes.append("latency columns: connect to ready; counts: no events are published in this scenario")
                results.append(result)
                // A step passes when every connect succeeded and the step kept to its schedule: done within
                // a tenth (plus `stepSlack` seconds) of the time its connects were spread over.
                let scheduled = Double(count) / rate
                let clean = failed == 0 && elapsed <= scheduled * 1.1 + options.stepSlack
                options.log("storm: step \(step): \(succeeded)/\(count) in \(String(format: "%.2f", elapsed)) s, \(failed) failed")
                if !clean { break }
                bestRate = rate
                rate *= max(1.01, options.rateFactor)
                if !options.holdConnections { try? await Task.sleep(nanoseconds: 300_000_000) }
            }
            if var last = results.popLast() {
                last.extra["best_clean_rate"] = bestRate
                results.append(last)
            }
            for client in held { client.close() }
            try? await Task.sleep(nanoseconds: 500_000_000)
            await load.shutdown()
            return results
        }
    }
}
