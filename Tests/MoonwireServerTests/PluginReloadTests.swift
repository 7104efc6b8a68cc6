import MoonwireClient
import MoonwireCore
import Synchronization
import Testing

/// Hot reload over a live server: while clients are connected and events flow, after a broken edit, with
/// state handed over, after a deletion, and through the file watcher.
@Suite(.timeLimit(.minutes(2))) struct PluginReloadTests {
    @Test func reloadWhileClientsAreConnectedAndEventsFlowLosesAndDuplicatesNothing() async throws {
        try await withLiveHub(plugins: LivePlugins([("stamp.lua", stampPlugin(1))])) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            let watcher = try await live.stream("/events?user_id=sue")
            _ = try await watcher.next(event: "notification")
            _ = try await alice.next(type: "user_joined") { $0["user_id"]?.stringValue == "bob" }

            let progress = Progress()
            // At least 300 messages, and on until 20 more have gone after the last reload answered.
            let publisher = Task { () -> Int in
                var i = 0
                while true {
                    i += 1
                    try await alice.say("m\(i)")
                    progress.sent.store(i, ordering: .releasing)
                    let reloadsEnded = progress.reloadsEndedAt.load(ordering: .acquiring)
                    if i >= 300, reloadsEnded > 0, i >= reloadsEnded + 20 { return i }
                    try await Task.sleep(for: .milliseconds(2))
                }
            }
            // Four reloads that change the stamp (and one that changes nothing), each while messages flow.
            var reloads: [(version: Int, sentBeforeReturn: Int)] = []
            for version in 2...5 {
                // 60 messages after the previous reload answered: each version handles some, however the race goes.
                let threshold = (reloads.last?.sentBeforeReturn ?? 0) + 60
                try await live.eventually("the publisher to pass message \(threshold)", timeout: .seconds(30)) {
                    progress.sent.load(ordering: .acquiring) >= threshold
                }
                try live.writePlugin("stamp.lua", stampPlugin(version))
                let reply = try await live.reloadPlugins()
                let sentByThen = progress.sent.load(ordering: .acquiring)
                #expect(reply.status == 200, "\(reply.text)")
                #expect(reply.body?["reloaded"] == ["stamp"], "\(reply.text)")
                reloads.append((version, sentByThen))
                if version == 3 {
                    let unchanged = try await live.reloadPlugins()
                    #expect(unchanged.status == 200)
                    #expect(unchanged.body?["unchanged"] == ["stamp"], "\(unchanged.text)")
                }
            }
            progress.reloadsEndedAt.store(max(1, reloads.last!.sentBeforeReturn), ordering: .releasing)
            let total = try await publisher.value
            #expect(reloads.last!.sentBeforeReturn < total, "the last reload finished while messages were still being sent")

            // Bob and the SSE watcher each received every message exactly once, in order.
            var received: [(n: Int, stamp: Int, id: String)] = []
            for _ in 0..<total {
                let message = try await bob.next(type: "message", timeout: .seconds(10))
                let n = Int(message.chatText?.dropFirst() ?? "") ?? -1
                received.append((n, Int(message["data"]?["stamp"]?.intValue ?? -1), message["event_id"]?.stringValue ?? ""))
            }
            #expect(received.map(\.n) == Array(1...total), "every message once, in order")
            #expect(try await bob.collect(type: "message", for: .milliseconds(300)).isEmpty, "no duplicates")
            var streamed: [String] = []
            for _ in 0..<total {
                streamed.append(try await watcher.next(event: "message", timeout: .seconds(10)).json?["event_id"]?.stringValue ?? "")
            }
            #expect(streamed == received.map(\.id), "the SSE watcher saw the same events in the same order")
            #expect(try await watcher.inbox.collect(for: .milliseconds(100)) { $0.event == "message" }.isEmpty)

            // Every message was handled by exactly one version, versions only moved forward, and a message
            // sent after a reload answered was handled by the new version.
            let stamps = received.map(\.stamp)
            #expect(stamps.allSatisfy { (1...5).contains($0) }, "\(stamps)")
            #expect(stamps == stamps.sorted(), "versions never go back: \(stamps)")
            #expect(Set(stamps) == [1, 2, 3, 4, 5], "each version handled some of the messages")
            #expect(stamps.first == 1)
            #expect(stamps.last == 5)
            for (version, sentByThen) in reloads {
                // Message sentByThen + 1 may have been in flight while the reload answered; the next ones were sent after.
                let later = received.filter { $0.n >= sentByThen + 2 }
                #expect(later.allSatisfy { $0.stamp >= version }, "after reload to \(version) (sent \(sentByThen)): \(later.map(\.stamp))")
            }

            // No connection dropped.
            #expect(live.hub.connections.count == 3)
            #expect(alice.session.closeCode == nil)
            #expect(bob.session.closeCode == nil)
            #expect(try await bob.collect(type: "user_left", for: .milliseconds(10)).isEmpty)
            #expect(try await alice.collect(type: "error", for: .milliseconds(10)).isEmpty)
            let listing = try await live.http.request("GET", "/api/plugins")
            #expect(listing.body?["reloads"]?.intValue == 6, "startup + 5 API reloads")
            #expect(try await live.pluginListing("stamp")?["version"]?.stringValue == "5")
            watcher.close()
            await alice.close()
            await bob.close()
        }
    }

    @Test func brokenReloadKeepsTheOldVersionAndReportsFileAndLine() async throws {
        try await withLiveHub(plugins: LivePlugins([("stamp.lua", stampPlugin(1))])) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            try await alice.say("before")
            #expect(try await bob.next(type: "message")["data"]?["stamp"]?.intValue == 1)
            let loadedAt = try await live.pluginListing("stamp")?["loaded_at"]

            let broken: [(source: String, problem: String)] = [
                (syntaxError, "stamp.lua:5:"),
                ("return {\n  name = 'stamp',\n  version = '2',\n  error('refusing to load'),\n}\n", "stamp.lua:4: refusing to load"),
                (missingRequiredSetting, "config key 'greeting' is required"),
            ]
            for (source, problem) in broken {
                try live.writePlugin("stamp.lua", source)
                let reply = try await live.reloadPlugins()
                #expect(reply.status == 422, "\(reply.text)")
                let failure = reply.body?["failed"]?.arrayValue?.first
                #expect(failure?["plugin"]?.stringValue == "stamp", "\(reply.text)")
                #expect(failure?["message"]?.stringValue?.contains(problem) == true, "expected '\(problem)' in \(reply.text)")
                #expect(reply.body?["reloaded"] == [])

                let listing = try #require(try await live.pluginListing("stamp"))
                #expect(listing["version"]?.stringValue == "1", "the old version keeps running")
                #expect(listing["loaded_at"] == loadedAt)
                #expect(listing["last_error"]?["message"]?.stringValue?.contains(problem) == true, "\(listing)")
                #expect(listing["last_error"]?["path"]?.stringValue?.hasSuffix("stamp.lua") == true)

                try await alice.say("during \(problem)")
                #expect(try await bob.next(type: "message")["data"]?["stamp"]?.intValue == 1, "old behaviour unchanged")
            }

            try live.writePlugin("stamp.lua", stampPlugin(2))
            let fixed = try await live.reloadPlugins()
            #expect(fixed.status == 200, "\(fixed.text)")
            #expect(fixed.body?["reloaded"] == ["stamp"])
            let listing = try await live.pluginListing("stamp")
            #expect(listing?["version"]?.stringValue == "2")
            #expect(listing?["last_error"] == .null)
            try await alice.say("after")
            #expect(try await bob.next(type: "message")["data"]?["stamp"]?.intValue == 2)
            #expect(live.hub.connections.count == 2)
            await alice.close()
            await bob.close()
        }
    }

    @Test func stateIsHandedOverThroughOnUnloadAndOnLoad() async throws {
        try await withLiveHub(plugins: LivePlugins([("counter.lua", counterPlugin("1"))])) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            var seen: [(n: Int64, total: Int64, version: String)] = []
            func send(_ count: Int) async throws {
                for i in 0..<count {
                    try await alice.say("x\(i)")
                    let data = try await bob.next(type: "message")["data"]
                    seen.append((data?["n"]?.intValue ?? -1, data?["total"]?.intValue ?? -1, data?["v"]?.stringValue ?? ""))
                }
            }
            try await send(3)
            try live.writePlugin("counter.lua", counterPlugin("2"))
            #expect(try await live.reloadPlugins().status == 200)
            try await send(2)

            // A version whose on_load fails: the old one keeps running with its state.
            try live.writePlugin("counter.lua", counterPlugin("3", failOnLoad: true))
            let failed = try await live.reloadPlugins()
            #expect(failed.status == 422)
            #expect(failed.body?["failed"]?.arrayValue?.first?["message"]?.stringValue?.contains("on_load failed") == true, "\(failed.text)")
            try await send(1)

            try live.writePlugin("counter.lua", counterPlugin("4"))
            #expect(try await live.reloadPlugins().status == 200)
            try await send(2)

            #expect(seen.map(\.n) == [1, 2, 3, 4, 5, 6, 7, 8], "the Lua local's count continues across versions")
            #expect(seen.map(\.total) == [1, 2, 3, 4, 5, 6, 7, 8], "hub.store is kept across versions")
            #expect(seen.map(\.version) == ["1", "1", "1", "2", "2", "2", "4", "4"])
            await alice.close()
            await bob.close()
        }
    }

    @Test func deletedPluginUnloadsWithItsHooksTypesAndTimers() async throws {
        let plugins = LivePlugins([
            ("stamp.lua", stampPlugin(1)), ("reactions.lua", LivePlugins.shipped("reactions")), ("ticker.lua", tickerPlugin(1)),
        ])
        let clock = ManualClock()
        try await withLiveHub(plugins: plugins, clock: clock) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            let ticks = try await live.stream("/events?rooms=ticks&user_id=metronome")
            _ = try await ticks.next(event: "notification")

            let posted = try await alice.sayAnswered("hello")
            let target = try #require(posted["data"]?["event_id"])
            #expect(try await bob.next(type: "message")["data"]?["stamp"]?.intValue == 1)
            let reaction: JSONObject = ["event_type": "reaction", "room_id": "general", "data": ["target": target, "emoji": "🎉"]]
            #expect(try await bob.request(reaction).isAck)
            #expect(try await alice.next(type: "reaction")["data"]?["count"]?.intValue == 1)
            try await live.advance(clock, by: .milliseconds(50), until: "two ticks") { await ticks.inbox.all { $0.event == "tick" }.count >= 2 }

            for file in ["stamp.lua", "reactions.lua", "ticker.lua"] { try live.removePlugin(file) }
            let reply = try await live.reloadPlugins()
            #expect(reply.status == 200, "\(reply.text)")
            #expect(Set(reply.body?["unloaded"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ["stamp", "reactions", "ticker"])
            let listing = try await live.http.request("GET", "/api/plugins")
            #expect(listing.body?["plugins"] == [], "\(listing.text)")
            #expect(listing.body?["errors"] == [:])

            // Its hook no longer applies...
            try await alice.say("unstamped")
            let plain = try await bob.next(type: "message")
            #expect(plain.chatText == "unstamped")
            #expect(plain["data"]?["stamp"] == nil)
            // ...its type is unknown again...
            let unknown = try await bob.request(reaction)
            #expect(unknown.errorCode == "unknown_event_type", "\(unknown)")
            // ...and its timers stopped.
            #expect(try #require(live.pluginHost).timerCount(of: "ticker") == 0)

            // Put back, it comes back.
            try live.writePlugin("reactions.lua", LivePlugins.shipped("reactions"))
            let again = try await live.reloadPlugins()
            #expect(again.body?["loaded"] == ["reactions"], "\(again.text)")
            #expect(try await bob.request(reaction).isAck)
            #expect(live.hub.connections.count == 3)
            ticks.close()
            await alice.close()
            await bob.close()
        }
    }

    @Test func reloadMovesTimersToTheNewVersionWithoutDoublingThem() async throws {
        // Timers run on a manual clock: they beat when the test moves it, however busy the machine is.
        let clock = ManualClock()
        try await withLiveHub(plugins: LivePlugins([("ticker.lua", tickerPlugin(1, interval: 0.1))]), clock: clock) { live in
            let ticks = try await live.stream("/events?rooms=ticks&user_id=metronome")
            _ = try await ticks.next(event: "notification")
            try await live.advance(clock, by: .milliseconds(100), until: "a tick of version 1") {
                await ticks.inbox.all { $0.event == "tick" && $0.json?["data"]?["v"]?.intValue == 1 }.count >= 1
            }

            try live.writePlugin("ticker.lua", tickerPlugin(2, interval: 0.1))
            #expect(try await live.reloadPlugins().status == 200)
            let host = try #require(live.pluginHost)
            #expect(host.plugins.first?.version == "2")
            #expect(host.timerCount(of: "ticker") == 1, "one timer, not two")
            await ticks.inbox.clear()
            try await live.advance(clock, by: .milliseconds(100), until: "three ticks of version 2") {
                await ticks.inbox.all { $0.event == "tick" }.count >= 3
            }
            // Ticks of version 1 already on their way when it was replaced were cleared above; none came after.
            let versions = await ticks.inbox.all { $0.event == "tick" }.compactMap { $0.json?["data"]?["v"]?.intValue }
            #expect(versions.allSatisfy { $0 == 2 }, "the old version's timer stopped: \(versions)")
            ticks.close()
        }
    }

    @Test func fileWatcherReloadsWithoutAnAPICall() async throws {
        try await withLiveHub(plugins: LivePlugins([("stamp.lua", stampPlugin(1))], watch: true)) { live in
            let alice = try await live.connect("alice")
            let bob = try await live.connect("bob")
            try await alice.say("one")
            #expect(try await bob.next(type: "message")["data"]?["stamp"]?.intValue == 1)

            // A changed file.
            try live.writePlugin("stamp.lua", stampPlugin(2))
            try await live.eventually("the watcher to load version 2", timeout: .seconds(10)) {
                try await live.pluginListing("stamp")?["version"]?.stringValue == "2"
            }
            try await alice.say("two")
            #expect(try await bob.next(type: "message")["data"]?["stamp"]?.intValue == 2)

            // A broken edit keeps version 2 and shows the error.
            try live.writePlugin("stamp.lua", syntaxError)
            try await live.eventually("the watcher to report the broken edit", timeout: .seconds(10)) {
                try await live.pluginListing("stamp")?["last_error"]?["message"]?.stringValue?.contains("stamp.lua:5:") == true
            }
            #expect(try await live.pluginListing("stamp")?["version"]?.stringValue == "2")
            try await alice.say("still two")
            #expect(try await bob.next(type: "message")["data"]?["stamp"]?.intValue == 2)

            // A new file.
            try live.writePlugin("reactions.lua", LivePlugins.shipped("reactions"))
            try await live.eventually("the watcher to load reactions", timeout: .seconds(10)) {
                try await live.pluginListing("reactions") != nil
            }
            let posted = try await alice.sayAnswered("react")
            _ = try await bob.next(type: "message")
            let target = try #require(posted["data"]?["event_id"])
            #expect(try await bob.request(["event_type": "reaction", "room_id": "general", "data": ["target": target, "emoji": "👀"]]).isAck)

            // A deleted file.
            try live.removePlugin("stamp.lua")
            try await live.eventually("the watcher to unload stamp", timeout: .seconds(10)) {
                try await live.pluginListing("stamp") == nil
            }
            try await alice.say("plain")
            let plain = try await bob.next(type: "message") { $0.chatText == "plain" }
            #expect(plain["data"]?["stamp"] == nil)
            #expect(live.hub.connections.count == 2, "no connection dropped")
            await alice.close()
            await bob.close()
        }
    }
}

// MARK: - Fixtures

/// Counts what the publisher has sent, for the test to read while it runs.
private final class Progress: Sendable {
    let sent = Atomic<Int>(0)
    /// Messages sent when the last reload answered (0 until then).
    let reloadsEndedAt = Atomic<Int>(0)
}

/// Adds `stamp = version` to every message's data.
private func stampPlugin(_ version: Int) -> String {
    """
    return {
      name = "stamp",
      version = "\(version)",
      on_publish = function(ctx, event)
        if event.event_type ~= "message" then return nil end
        event.data.stamp = \(version)
        return event
      end,
    }
    """
}

/// The stamp plugin with a syntax error on line 5.
private let syntaxError = """
    return {
      name = "stamp",
      version = "3",
      on_publish = function(ctx, event)
        event.data.stamp = = 3
        return event
      end,
    }
    """

/// A version of the stamp plugin that needs a setting the configuration does not give.
private let missingRequiredSetting = """
    return {
      name = "stamp",
      version = "4",
      config = { greeting = { type = "string", required = true } },
      on_publish = function(ctx, event)
        event.data.stamp = 4
        return event
      end,
    }
    """

/// Counts messages in a Lua local handed from version to version (one state: the local is shared by
/// every call), and in hub.store.
private func counterPlugin(_ version: String, failOnLoad: Bool = false) -> String {
    """
    local count = 0
    return {
      name = "counter",
      version = "\(version)",
      single_state = true,
      on_load = function(config, saved)
        if type(saved) == "table" and type(saved.count) == "number" then count = saved.count end
        \(failOnLoad ? "error(\"cannot start\")" : "")
      end,
      on_unload = function()
        return { count = count }
      end,
      on_publish = function(ctx, event)
        if event.event_type ~= "message" then return nil end
        count = count + 1
        event.data.n = count
        event.data.total = hub.store.incr("total")
        event.data.v = "\(version)"
        return event
      end,
    }
    """
}

/// Publishes a "tick" event with `v = version` to the room "ticks" on a named timer.
private func tickerPlugin(_ version: Int, interval: Double = 0.05) -> String {
    """
    return {
      name = "ticker",
      version = "\(version)",
      on_load = function(config)
        hub.every(\(interval), function()
          hub.publish("ticks", "tick", { v = \(version), at = hub.now() })
        end, "beat")
      end,
    }
    """
}
