import Foundation
import MoonwireCore
import Testing

/// Hostile plugins against a running hub process (docs/plugins.md §10–11): whatever a plugin does, the
/// hub keeps answering `/health` and ordinary publishes, counts the plugin's failure with its reason, and
/// stays within its memory envelope.
@Suite(.timeLimit(.minutes(3))) struct HostilePluginTests {
    /// Each attack is named in the published event's `data.attack`; ordinary events pass untouched.
    static let attacks = """
        local attacks = {}
        -- Values that used to crash the Lua -> Swift conversion or Swift arithmetic.
        attacks.own_index = function() local t = {} return setmetatable(t, { __index = t, __metatable = "read-only" }) end
        attacks.cycle = function(event) event = hub.copy(event) event.data.self = event.data return event end
        attacks.encode_pair = function()
          local a, b = {}, {}
          setmetatable(a, { __index = b, __metatable = "read-only" })
          setmetatable(b, { __index = a, __metatable = "read-only" })
          return hub.json.encode(a)
        end
        attacks.ttl_huge = function() hub.store.set("k", 1, math.huge) end
        attacks.ttl_1e11 = function() hub.store.set("k", 1, 1e11) end
        attacks.incr_huge = function() hub.store.incr("h", math.huge) end
        attacks.incr_maxint = function() hub.store.incr("m", math.maxinteger) hub.store.incr("m", math.maxinteger) end
        attacks.incr_2_62 = function() hub.store.incr("p", 2^62) hub.store.incr("p", 2^62) end
        attacks.nan = function(event) event = hub.copy(event) event.data.x = 0/0 return event end
        attacks.a_function = function() return function() end end
        -- C calls the instruction hook never sees.
        attacks.find = function() return string.find(("a"):rep(400), ".-.-.-b") end
        attacks.gsub = function() return string.gsub(("a"):rep(5000), "a-a-a-a-b", "") end
        attacks.gmatch = function() for _ in string.gmatch(("a"):rep(5000), ".-.-.-b") do end end
        attacks.rep = function() return #string.rep("", math.maxinteger) == 0 and nil end
        attacks.move = function() table.move({}, 1, 1e15, 2) end
        attacks.gc = function() getmetatable(hub.array()).__gc = function() while true do end end end
        return {
          on_publish = function(ctx, event)
            local attack = event.data.attack
            if attack then return attacks[attack](event) end
          end,
        }
        """

    @Test func valuesAndNumbersThatCrashedTheHubAreRefusedWithAReason() async throws {
        try await withPluginHub([("attacks.lua", Self.attacks)]) { hub in
            let cases: [(String, String)] = [
                ("own_index", "bad_return"), ("cycle", "bad_return"), ("encode_pair", "error"), ("ttl_huge", "error"),
                ("ttl_1e11", "error"), ("incr_huge", "error"), ("incr_maxint", "error"), ("incr_2_62", "error"), ("nan", "bad_return"),
                ("a_function", "bad_return"), ("gc", "error"),
            ]
            for (attack, _) in cases {
                let reply = try await hub.publish(["attack": .string(attack)])
                #expect(reply.status != 200, "\(attack) was refused: \(reply.status) \(reply.text)")
                try await hub.expectServing("after \(attack)")
            }
            let failures = try await hub.failures("attacks", hook: "on_publish")
            #expect(failures["bad_return"] == cases.filter { $0.1 == "bad_return" }.count, "\(failures)")
            #expect(failures["error"] == cases.filter { $0.1 == "error" }.count, "\(failures)")
            let last = try #require(try await hub.plugin("attacks")?["last_runtime_error"])
            #expect(last["reason"] == "error")
            #expect(last["location"]?.stringValue?.hasSuffix("attacks.lua:24") == true, "\(last)")
        }
    }

    @Test func longCCallsAreStoppedAndTheHubKeepsServing() async throws {
        try await withPluginHub([("attacks.lua", Self.attacks)]) { hub in
            // Four at once, and the hub answers others meanwhile.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for attack in ["find", "gsub", "gmatch", "move"] {
                    group.addTask { try await hub.publish(["attack": .string(attack)]).status }
                }
                // The plugin's own hook is busy with the attacks (a publish may wait for it, then fail as busy);
                // the hub answers.
                try await hub.expectServing(publishMayBeRefused: true, "while four pattern attacks run")
                for try await status in group { #expect(status != 200) }
            }
            #expect(try await hub.publish(["attack": "rep"]).status == 200, "an empty string.rep costs nothing")
            // Stopped by the CPU budget, or by the time limit first where the matcher runs slowly (debug builds).
            // Each stopped by a limit, or refused as busy while the others held the plugin.
            let failures = try await hub.failures("attacks", hook: "on_publish")
            // (The plain publish made meanwhile may have been refused as busy too.)
            #expect(Set(failures.keys).isSubset(of: ["cpu", "time", "busy"]), "\(failures)")
            #expect(failures.values.reduce(0, +) >= 4, "\(failures)")
            #expect(failures["cpu", default: 0] + failures["time", default: 0] >= 1, "\(failures)")
            let last = try #require(try await hub.plugin("attacks")?["last_runtime_error"])
            #expect(last["reason"] == "cpu" || last["reason"] == "time")
            #expect(last["location"]?.stringValue?.contains("attacks.lua:") == true, "the kill names the plugin's line: \(last)")
            try await hub.expectServing("after the attacks")
        }
    }

    @Test func thousandsOfFastTimersDoNotCrashTheHub() async throws {
        let timers = """
            return {
              on_load = function()
                for i = 1, 1000 do hub.every(0.01, function() hub.store.incr("ticks") end) end
                local ok, err = pcall(hub.every, 0.01, function() end)
                hub.store.set("refused", not ok and err or "accepted")
              end,
            }
            """
        try await withPluginHub([("timers.lua", timers)], settings: ["plugins.max_timers=1000"]) { hub in
            try await hub.expectServing("with 1,000 timers of 10 ms")
            try await Task.sleep(for: .seconds(1))
            try await hub.expectServing("a second later")
            #expect(hub.isAlive)
        }
    }

    static let hog = """
        local document = hub.json.encode((function() local t = {} for i = 1, 20000 do t[i] = { i, "some text" } end return t end)())
        local attacks = {
          store = function() local value = string.rep("x", 100000) for i = 1, 1e6 do hub.store.set("key" .. i, value) end end,
          decode = function() local kept = {} for i = 1, 1e6 do kept[#kept + 1] = hub.json.decode(document) end end,
          publish = function() local text = string.rep("x", 200000) for i = 1, 1e6 do hub.publish("flood", "message", { text = text }) end end,
          timers = function() for i = 1, 50000 do hub.every(1, function() end) end end,
          dag = function() local t = { 1 } for i = 1, 23 do t = { t, t } end return hub.json.encode(t) end,
        }
        return {
          on_publish = function(ctx, event)
            local attack = event.data.attack
            if attack then attacks[attack]() end
          end,
        }
        """

    @Test func whatAPluginCausesStaysWithinItsQuotas() async throws {
        // Small quotas, and a time limit that lets a slow (debug) build reach them.
        let settings = ["plugins.store_max_bytes=1048576", "plugins.publish_queue_bytes=1048576", "plugins.call_timeout=2"]
        try await withPluginHub([("hog.lua", Self.hog)], settings: settings) { hub in
            let before = try hub.residentBytes()
            let expected: [(attack: String, reasons: Set<String>, message: String)] = [
                ("store", ["error"], "plugins.store_max_bytes"), ("publish", ["error"], "plugins.publish_queue_bytes"),
                ("timers", ["error"], "plugins.max_timers"), ("dag", ["error"], "too large to convert"),
                // Ends in the memory limit (or, on a slow build, the time limit first).
                ("decode", ["memory", "time"], "limit exceeded"),
            ]
            for (attack, reasons, message) in expected {
                let reply = try await hub.publish(["attack": .string(attack)])
                #expect(reply.status != 200, "\(attack): \(reply.status) \(reply.text)")
                let last = try await hub.plugin("hog")?["last_runtime_error"]
                #expect(reasons.contains(last?["reason"]?.stringValue ?? ""), "\(attack): \(String(describing: last))")
                #expect(last?["message"]?.stringValue?.contains(message) == true, "\(attack): \(String(describing: last))")
                try await hub.expectServing("after \(attack)")
            }
            #expect(try await hub.plugin("hog")?["quarantines"] == 0, "slow host calls are stopped at the deadline, not left to get stuck")
            let grown = try hub.residentBytes() - before
            // Plugin heap 32 MiB + store 8 MiB + publish queue 4 MiB, and what the allocator keeps.
            #expect(grown < 160 << 20, "the hub grew by \(grown >> 20) MiB")
        }
    }

    @Test func publishLoopsEndAtTheHopLimit() async throws {
        let ping = "return { on_publish = function(ctx, e) if e.data.ball == 'ping' then hub.publish(e.room_id, 'message', { ball = 'pong' }) end end }"
        let pong = "return { on_publish = function(ctx, e) if e.data.ball == 'pong' then hub.publish(e.room_id, 'message', { ball = 'ping' }) end end }"
        let echo = """
            return { types = { echo = { stored = false, handle = function(ctx, e) hub.publish(e.room_id, "echo", e.data) end } } }
            """
        try await withPluginHub([("ping.lua", ping), ("pong.lua", pong), ("echo.lua", echo)]) { hub in
            #expect(try await hub.publish(["ball": "ping"]).status == 200)
            #expect(try await hub.publish(["n": 1], type: "echo").status == 200)
            try await eventually("both loops to be cut", timeout: .seconds(10)) {
                let ping = try await hub.plugin("ping")?["publishes_dropped"]?["publish_loop"]?.intValue ?? 0
                let pong = try await hub.plugin("pong")?["publishes_dropped"]?["publish_loop"]?.intValue ?? 0
                let echo = try await hub.plugin("echo")?["publishes_dropped"]?["publish_loop"]?.intValue ?? 0
                return ping + pong == 1 && echo == 1
            }
            // And nothing more is published after that.
            let settled = try await hub.http.request("GET", "/api/stats").body?["events_published"]
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await hub.http.request("GET", "/api/stats").body?["events_published"] == settled)
            try await hub.expectServing("after the loops")
        }
    }

    @Test func hundredsOfReloadsDoNotGrowTheHub() async throws {
        func version(_ n: Int) -> String {
            """
            -- version \(n)
            local data = {} for i = 1, 20000 do data[i] = "entry " .. i end
            return { version = "\(n)", on_publish = function(ctx, event) return nil end }
            """
        }
        // Loading 20,000 strings is no attack: a time limit a loaded machine cannot miss.
        try await withPluginHub([("big.lua", version(0))], settings: ["plugins.call_timeout=10"]) { hub in
            func reload(_ n: Int) async throws {
                try hub.writePlugin("big.lua", version(n))
                let reply = try await hub.reload()
                guard reply.body?["reloaded"] == ["big"] else { throw ProbeError.unexpected("reload \(n): \(reply.text)") }
            }
            for n in 1...100 { try await reload(n) }
            let warm = try hub.residentBytes()
            for n in 101...500 { try await reload(n) }
            let after = try hub.residentBytes()
            #expect(after - warm < 8 << 20, "400 more reloads grew the hub from \(warm >> 20) to \(after >> 20) MiB")
            #expect(try await hub.plugin("big")?["version"] == "500")
            try await hub.expectServing("after 500 reloads")
        }
    }
}
