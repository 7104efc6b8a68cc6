import Foundation
import MoonwireBench
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `moonwire bench` at tiny sizes: every scenario runs against a live hub and its counts add up — every
/// published event reached every subscriber once. Speed is not asserted.
@Suite(.timeLimit(.minutes(2))) struct BenchSmokeTests {
    /// Options for a short run against `live`.
    private func options(_ live: LiveHub, transport: BenchTransport = .ws) -> BenchOptions {
        var options = BenchOptions()
        options.url = live.baseURL
        options.transport = transport
        options.duration = 0.5
        options.drain = 3
        options.threads = 2
        options.connectConcurrency = 16
        return options
    }

    private func expectCountsAddUp(_ result: BenchResult, recipientsPerEvent: Int? = nil, _ comment: String = "") {
        let context = "\(comment) \(result)"
        #expect(result.published > 0, "\(context)")
        #expect(result.publishErrors == 0, "\(context)")
        #expect(result.expected > 0, "\(context)")
        if let recipientsPerEvent { #expect(result.expected == result.published * recipientsPerEvent, "\(context)") }
        #expect(result.received == result.expected, "\(context)")
        #expect(result.duplicates == 0, "\(context)")
        #expect(result.missing == 0, "\(context)")
        #expect(result.errors.total == 0, "\(context)")
        #expect(result.latency.count == UInt64(result.received), "\(context)")
        #expect(result.latency.p50 <= result.latency.p99 && result.latency.p99 <= result.latency.p999, "\(context)")
        #expect(result.deliveredPerSecond > 0, "\(context)")
        #expect(result.countsAddUp, "\(context)")
    }

    @Test(arguments: BenchTransport.allCases)
    func fanoutAtFullSpeedDeliversEveryEventToEverySubscriberOnce(_ transport: BenchTransport) async throws {
        try await withLiveHub { live in
            var options = options(live, transport: transport)
            options.subscribers = 6
            options.hubPID = getpid()
            let results = try await Bench.run(.fanout, options)
            #expect(results.count == 1)
            let result = try #require(results.first)
            #expect(result.connections == 6)
            #expect(result.mode == "full")
            expectCountsAddUp(result, recipientsPerEvent: 6, "fanout \(transport)")
            // The in-process hub is this process: its CPU and memory are read.
            #expect(result.hub != nil)
            #expect((result.hub?.rssPeakBytes ?? 0) > 0)
        }
    }

    @Test(arguments: BenchTransport.allCases)
    func fanoutAtAFixedRatePublishesOnSchedule(_ transport: BenchTransport) async throws {
        try await withLiveHub { live in
            var options = options(live, transport: transport)
            options.subscribers = 4
            options.rate = 40
            options.payloadBytes = 1024
            let result = try #require(try await Bench.run(.fanout, options).first)
            #expect(result.mode == "rate")
            #expect(result.payloadBytes == 1024)
            // 40 events/s for half a second.
            #expect((18...21).contains(result.published), "\(result)")
            expectCountsAddUp(result, recipientsPerEvent: 4, "rate \(transport)")
        }
    }

    @Test(arguments: [BenchTransport.ws, .poll])
    func roomsDeliverEachRoomsEventsToItsSubscriberOnly(_ transport: BenchTransport) async throws {
        try await withLiveHub { live in
            var options = options(live, transport: transport)
            options.rooms = 25
            let result = try #require(try await Bench.run(.rooms, options).first)
            #expect(result.rooms == 25)
            #expect(result.connections == 25)
            expectCountsAddUp(result, recipientsPerEvent: 1, "rooms \(transport)")
        }
    }

    @Test func chatClientsReceiveEveryoneElsesMessagesOnce() async throws {
        try await withLiveHub { live in
            var options = options(live)
            options.subscribers = 12
            options.roomSize = 4
            options.messageRate = 10
            options.duration = 1
            let result = try #require(try await Bench.run(.chat, options).first)
            #expect(result.rooms == 3)
            // Each message reaches the three other members of its room.
            expectCountsAddUp(result, recipientsPerEvent: 3, "chat")
        }
    }

    @Test func stormStepsUpTheConnectRateAndEveryConnectSucceeds() async throws {
        try await withLiveHub { live in
            var options = options(live)
            options.startRate = 20
            options.maxRate = 40
            options.stepSeconds = 0.5
            // Only a failed connect may end the run here: a debug build on a busy CI machine can run late.
            options.stepSlack = 60
            let results = try await Bench.run(.storm, options)
            #expect(results.map(\.variant) == ["step 1", "step 2"])
            #expect(results.map { $0.extra["connects_attempted"] } == [10, 20])
            for result in results {
                #expect(result.extra["connects_failed"] == 0, "\(result)")
                #expect(result.extra["connects_succeeded"] == result.extra["connects_attempted"], "\(result)")
                #expect(result.latency.count == UInt64(result.connections))
                #expect(result.errors.total == 0, "\(result.errors)")
            }
            #expect(results.last?.extra["best_clean_rate"] == 40)
        }
    }

    @Test func idleConnectionsAreHeldAndStillReceive() async throws {
        try await withLiveHub { live in
            var options = options(live)
            options.subscribers = 40
            options.hold = 0.2
            options.verifyEvents = 3
            options.hubPID = getpid()
            let result = try #require(try await Bench.run(.idle, options).first)
            #expect(result.connections == 40)
            #expect(result.published == 3)
            expectCountsAddUp(result, recipientsPerEvent: 40, "idle")
            #expect(result.extra["hub_rss_per_connection_bytes"] != nil)
        }
    }

    @Test func pluginsVariantsEachStartAHubAndCountsAddUp() async throws {
        var options = BenchOptions()
        options.hubBinary = CommandRun.binary
        options.subscribers = 4
        options.duration = 0.5
        options.drain = 3
        options.threads = 2
        let results = try await Bench.run(.plugins, options)
        #expect(results.map(\.variant) == ["none", "on_publish x1", "on_publish x3", "on_deliver"])
        for result in results {
            expectCountsAddUp(result, recipientsPerEvent: 4, "plugins \(result.variant)")
            #expect(result.hub != nil, "the started hub's CPU and memory are read")
        }
        #expect(results[1].extra["on_publish_calls"] == Double(results[1].published))
        #expect(results[2].extra["on_publish_calls"] == Double(3 * results[2].published))
        // One call per delivery; a few more for the presence events (user_joined) the subscribers also get.
        let deliverCalls = try #require(results[3].extra["on_deliver_calls"])
        #expect(deliverCalls >= Double(results[3].received))
        #expect(deliverCalls <= Double(results[3].received + 4 * 4))
        #expect(results[1].extra["throughput_vs_none"] != nil)
    }

    @Test func manyKeysPublishesEachSizeThroughThePluginsAndReadsTheHubsCPU() async throws {
        try await withLiveHub(plugins: .shipped(["moderation", "reactions"])) { live in
            var options = options(live)
            options.hubPID = getpid()
            options.keys = [10, 300]
            options.events = 2
            let results = try await Bench.run(.manykeys, options)
            #expect(results.map(\.variant) == ["10 keys", "300 keys"])
            for result in results {
                #expect(result.published == 2, "\(result)")
                #expect(result.errors.total == 0, "\(result)")
                #expect(result.extra["hub_cpu_seconds_per_event"] != nil)
                #expect(result.extra["wall_seconds_per_event"].map { $0 > 0 } == true)
            }
            #expect(results[1].payloadBytes > results[0].payloadBytes)
        }
    }

    @Test func joinStormCountsTheAnnouncementsOfBothPhases() async throws {
        try await withLiveHub { live in
            var options = options(live)
            options.hubPID = getpid()
            options.subscribers = 20
            let results = try await Bench.run(.joinstorm, options)
            #expect(results.map(\.variant) == ["join", "leave"])
            #expect(results.allSatisfy { $0.connections == 20 })
            // A small room: each join and leave announced on its own, to the watcher too.
            #expect(results[0].extra["watcher_announcements"] == 20)
            #expect(results[1].extra["watcher_announcements"] == 20)
            #expect((results[0].extra["announcements_received"] ?? 0) > 0)
            #expect(results.allSatisfy { $0.extra["hub_cpu_seconds"] != nil })
        }
    }

    @Test func reloadUnderLoadDropsAndDuplicatesNothing() async throws {
        var options = BenchOptions()
        options.hubBinary = CommandRun.binary
        options.subscribers = 4
        options.duration = 2.2
        options.reloadInterval = 0.5
        options.drain = 3
        options.threads = 2
        let result = try #require(try await Bench.run(.reload, options).first)
        expectCountsAddUp(result, recipientsPerEvent: 4, "reload")
        #expect((result.extra["reloads"] ?? 0) >= 2, "\(result.extra)")
        #expect(result.extra["reload_failures"] == 0)
    }

    @Test func payloadsHaveTheirSizeAndAreFoundOnce() {
        let payload = BenchPayload(runID: "abc123", size: 100)
        let bytes = payload.make(seq: 42, micros: 1_795_966_921_123_456)
        #expect(bytes.count == 100)
        #expect((try? JSONSerialization.jsonObject(with: Data(bytes))) != nil)
        var found: [(UInt64, UInt64)] = []
        // Inside an envelope, twice in one long-poll answer, and one of another run (ignored).
        let other = BenchPayload(runID: "zzz999", size: 100).make(seq: 7, micros: 1)
        let text = #"{"messages":[{"content":"# + String(decoding: bytes, as: UTF8.self) + #","data":"#
            + String(decoding: bytes, as: UTF8.self) + "},{\"data\":" + String(decoding: other, as: UTF8.self) + "}]}"
        PayloadScanner(payload).scan(Array(text.utf8)) { found.append(($0, $1)) }
        #expect(found.count == 2)
        #expect(found.first?.0 == 42 && found.first?.1 == 1_795_966_921_123_456)
        found.removeAll()
        PayloadScanner(dataOf: payload).scan(Array(text.utf8)) { found.append(($0, $1)) }
        #expect(found.count == 1)
    }

    @Test func compareRunsEveryTransportAndModeAgainstMoonwireAndARealNchan() async throws {
        let nchan = try await NchanServer.start()
        do {
            try await withLiveHub { live in
                var options = options(live)
                options.moonwireURL = live.baseURL
                options.moonwirePID = getpid()
                options.nchanURL = nchan.url
                options.nchanPID = nchan.pid
                options.compareSubscribers = [4]
                options.comparePayloads = [100]
                options.compareModes = ["rate", "full"]
                options.compareDeliveriesPerSecond = 80
                let results = try await Bench.run(.compare, options)
                let runs = results.map { "\($0.target.rawValue) \($0.transport?.rawValue ?? "-") \($0.mode.hasPrefix("rate") ? "rate" : $0.mode)" }
                #expect(Set(runs).count == 12, "\(runs)")
                for target in ["moonwire", "nchan"] {
                    for transport in ["ws", "sse", "poll"] {
                        for mode in ["rate", "full"] { #expect(runs.contains("\(target) \(transport) \(mode)"), "\(runs)") }
                    }
                }
                for result in results {
                    expectCountsAddUp(result, recipientsPerEvent: 4, "compare \(result.target) \(result.mode)")
                    #expect(result.hub != nil, "both servers' CPU and memory are read")
                }
                let table = ResultTable.comparison(results)
                #expect(table.contains("ws") && table.contains("sse") && table.contains("poll"), "\(table)")
            }
        } catch {
            await nchan.stop()
            throw error
        }
        await nchan.stop()
    }

    @Test func theComparisonTablePairsMoonwireAndNchan() {
        var moonwire = BenchResult(scenario: "fanout", target: .moonwire, transport: .ws, connections: 1000, rooms: 1, payloadBytes: 100, mode: "full")
        moonwire.deliveredPerSecond = 200_000
        moonwire.latency = LatencySummary(count: 10, p50: 1000, p99: 4000, p999: 5000, max: 6000, mean: 1500)
        var nchan = moonwire
        nchan.target = .nchan
        nchan.deliveredPerSecond = 100_000
        nchan.latency.p99 = 8000
        let table = ResultTable.comparison([moonwire, nchan])
        let row = table.split(separator: "\n").first { $0.hasPrefix("ws") }
        #expect(row?.contains("200000") == true && row?.contains("100000") == true && row?.contains("2.00") == true && row?.contains("0.50") == true, "\(table)")
        #expect(ResultTable.render([moonwire, nchan]).contains("nchan"))
    }
}
