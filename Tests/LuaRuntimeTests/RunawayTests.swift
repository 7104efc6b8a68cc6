import MoonwireCore
import Testing

@testable import LuaRuntime

/// Calls the instruction hook never sees (one long C function) and values that used to crash or bloat the
/// host: each must end in a limit or a clear error, quickly, with the state usable afterwards.
@Suite struct RunawayTests {
    let limits = LuaLimits(memoryBytes: 8 << 20, instructionsPerCall: 2_000_000, callTimeout: .seconds(5))

    func run(_ body: String, limits: LuaLimits? = nil) throws -> (LuaState, Result<[LuaResult], LuaError>) {
        let lua = try LuaState(limits: limits ?? self.limits)
        let ref = try #require(try lua.run(source: "return function()\n\(body)\nend", chunkName: "t.lua"))
        return (lua, lua.call(ref, [], results: 1))
    }

    @Test(arguments: [
        #"return string.find(("a"):rep(400), ".-.-.-b")"#,
        #"return string.find(("a"):rep(100000), ".-.-.-.-b")"#,
        #"return select(2, string.gsub(("a"):rep(3000), "a-a-a-b", "x"))"#,
        #"for x in string.gmatch(("a"):rep(3000), ".-.-.-b") do end"#,
        #"return ("a"):rep(40):find(("a?"):rep(40) .. ("a"):rep(40))"#,
        #"return (("(x)"):rep(3000)):find(".-%b().-%b().-z")"#,
    ])
    func backtrackingPatternsAreStoppedByTheBudget(_ body: String) throws {
        let (lua, result) = try run(body)
        #expect(result.limit == .cpu, "\(result)")
        guard case .failure(let error) = result else { return }
        #expect(error.location == "t.lua:2", "the kill names the plugin's line: \(error)")
        // The state still answers.
        let ok = try #require(try lua.run(source: "return function() return ('abc'):find('b') end", chunkName: "t.lua"))
        #expect(try lua.call(ok, [], results: 1).get() == [.value(2)])
    }

    @Test func aPatternKillCannotBeCaughtByPcall() throws {
        let (_, result) = try run(#"while true do pcall(string.find, ("a"):rep(400), ".-.-.-b") end"#)
        #expect(result.limit == .cpu)
    }

    @Test func aPatternPastTheDeadlineIsStopped() throws {
        let slow = LuaLimits(memoryBytes: 8 << 20, instructionsPerCall: 0, callTimeout: .milliseconds(100))
        let (_, result) = try run(#"return string.find(("a"):rep(400), ".-.-.-b")"#, limits: slow)
        #expect(result.limit == .time)
    }

    @Test func patternsStillMatchAsLuaDoes() throws {
        let (_, result) = try run(
            """
            local out = {}
            local function add(...) local t = table.pack(...) for i = 1, t.n do out[#out + 1] = tostring(t[i]) end out[#out + 1] = '|' end
            add(string.find("hello world", "o w"))
            add(string.find("hello world", "(o)%s(w)"))
            add(string.find("a.b", ".", 1, true))
            add(string.match("key = value", "(%w+)%s*=%s*(%w+)"))
            add(string.match("  trim  ", "^%s*(.-)%s*$"))
            add(string.gsub("hello world", "o", "0"))
            add(string.gsub("abc", "%w", "%0%0"))
            add(string.gsub("$name is $age", "%$(%w+)", { name = "Ann", age = 7 }))
            add(string.gsub("f(a(b)c)d", "%b()", "[]"))
            add(string.find("THE (quick) fox", "%f[%a]%a+", 5))
            add(string.gsub("abc", "", "-"))
            add(string.match("2024-01-02", "()(%d+)-(%d+)"))
            local words = {} for w in string.gmatch("one two  three", "%a+") do words[#words + 1] = w end
            add(table.concat(words, ","))
            add(string.find("aaa", "a-", 2))
            add(string.match("xyzzy", "(z)%1"))
            return table.concat(out, " ")
            """)
        let expected =
            "5 7 | 5 7 o w | 2 2 | key value | trim | hell0 w0rld 2 | aabbcc 3 | Ann is 7 2 | f[]d 1 | 6 10 | -a-b-c- 4 | 1 2024 01 | one,two,three | 2 1 | z |"
        #expect(try result.get() == [.value(.string(expected))])
    }

    @Test func repeatingNothingCostsNothing() throws {
        let (_, result) = try run("return #(string.rep('', math.maxinteger)) + #(('x'):rep(0)) + #(('') :rep(1e15, ''))")
        #expect(try result.get() == [.value(0)])
    }

    @Test(arguments: [
        "local t = setmetatable({}, {__len = function() return 1e15 end}) table.insert(t, 1, 'x')",
        "local t = setmetatable({}, {__len = function() return 1e15 end}) table.remove(t, 1)",
        "table.move({}, 1, 1e15, 2)",
        "table.move({}, 1, math.maxinteger - 1, 2, {})",
    ])
    func tableShiftsAreMetered(_ body: String) throws {
        let (_, result) = try run(body)
        #expect(result.limit == .cpu, "\(result)")
    }

    @Test func tableFunctionsStillWork() throws {
        let (_, result) = try run(
            """
            local t = {1, 2, 3}
            table.insert(t, 4) table.insert(t, 1, 0)
            local removed = table.remove(t, 2)
            local moved = table.move({1, 2, 3}, 1, 3, 2)
            return table.concat(t, ",") .. ";" .. removed .. ";" .. table.concat(moved, ",") .. ";" .. tostring(table.remove({}))
            """)
        #expect(try result.get() == [.value("0,2,3,4;1;1,1,2,3;nil")])
    }

    @Test func aCallNearItsCapSucceedsWhenACollectionMakesRoom() throws {
        let lua = try LuaState(limits: LuaLimits(memoryBytes: 4 << 20, instructionsPerCall: 0, callTimeout: nil))
        let ref = try #require(
            try lua.run(
                source: """
                    return function()
                      for round = 1, 20 do
                        local garbage = {}
                        for i = 1, 20000 do garbage[i] = { i } end   -- about 1.5 MiB, garbage after each round
                      end
                      return "done"
                    end
                    """, chunkName: "t.lua"))
        #expect(try lua.call(ref, [], results: 1).get() == [.value("done")])
    }
}

@Suite struct ConversionLimitTests {
    func lua(_ limits: LuaLimits = LuaLimits()) throws -> LuaState { try LuaState(limits: limits) }

    /// Runs `source` (which returns a value) and converts the result.
    func convert(_ source: String, limits: LuaLimits = LuaLimits()) throws -> LuaResult {
        let lua = try lua(limits)
        let ref = try #require(try lua.run(source: "return function() \(source) end", chunkName: "t.lua"))
        return try lua.call(ref, [], results: 1).get().first ?? .none
    }

    @Test func aTableThatIsItsOwnIndexIsRefusedNotACrash() throws {
        let result = try convert("local t = {} setmetatable(t, { __index = t, __metatable = 'read-only' }) return t")
        guard case .unreadable(let message) = result else { Issue.record("converted: \(result)"); return }
        #expect(message.contains("itself"))
    }

    @Test func twoTablesPointingAtEachOtherAreRefused() throws {
        let result = try convert(
            "local a, b = {}, {} setmetatable(a, { __index = b, __metatable = 'read-only' }) setmetatable(b, { __index = a, __metatable = 'read-only' }) return a")
        guard case .unreadable = result else { Issue.record("converted: \(result)"); return }
    }

    @Test func aCycleIsRefused() throws {
        let result = try convert("local t = { x = 1 } t.self = t return t")
        guard case .unreadable(let message) = result else { Issue.record("converted: \(result)"); return }
        #expect(message.contains("itself"))
    }

    @Test func aSharedSubtableIsFineButAnExponentialDAGIsRefused() throws {
        #expect(try convert("local s = { 1 } return { a = s, b = s }") == .value(["a": [1], "b": [1]]))
        let result = try convert("local t = { 1 } for i = 1, 25 do t = { t, t } end return t")
        guard case .unreadable(let message) = result else { Issue.record("converted: \(result)"); return }
        #expect(message.contains("too large"))
    }

    @Test func tooMuchTextIsRefused() throws {
        let limits = LuaLimits(memoryBytes: 64 << 20, conversionBytes: 1 << 20)
        let result = try convert("local t = {} for i = 1, 20 do t[i] = string.rep('x', 100000) end return t", limits: limits)
        guard case .unreadable(let message) = result else { Issue.record("converted: \(result)"); return }
        #expect(message.contains("bytes"))
    }

    @Test func nonFiniteNumbersAreRefused() throws {
        guard case .unreadable = try convert("return { x = 0/0 }") else { Issue.record("NaN converted"); return }
        guard case .unreadable = try convert("return { x = math.huge }") else { Issue.record("inf converted"); return }
    }

    @Test func aHostResultThatDoesNotFitIsAMemoryError() throws {
        let lua = try LuaState(limits: LuaLimits(memoryBytes: 4 << 20, instructionsPerCall: 0, callTimeout: nil))
        let big = JSONValue.array((0..<200_000).map { .object(["n": .int(Int64($0)), "text": .string("some text here")]) })
        lua.installModule("test", functions: [("big", { _ throws(LuaCallError) in [.json(big)] })])
        let ref = try #require(
            try lua.run(source: "return function() local ok, err = pcall(test.big) return ok, tostring(err) end", chunkName: "t.lua"))
        let results = try lua.call(ref, [], results: 2).get()
        #expect(results.first == .bool(false))
        #expect(results.last == .value("not enough memory"))
        #expect(lua.memoryUsed < 4 << 20)
        // Uncaught, it fails the call as a memory error.
        let direct = try #require(try lua.run(source: "return function() return #test.big() end", chunkName: "t.lua"))
        #expect(lua.call(direct, [], results: 1).limit == .memory)
    }

    @Test func theArrayMarkerIsProtected() throws {
        let lua = try LuaState(limits: LuaLimits())
        lua.installModule("hub", functions: [("array", LuaState.markArray)])
        let ref = try #require(
            try lua.run(
                source: """
                    return function()
                      local mt = getmetatable(hub.array())
                      local ok = pcall(setmetatable, hub.array(), {})
                      return tostring(mt), ok
                    end
                    """, chunkName: "t.lua"))
        #expect(try lua.call(ref, [], results: 2).get() == [.value("array"), .bool(false)])
    }

    @Test func aKilledCallGetsNothingMoreFromTheHost() throws {
        let lua = try LuaState(limits: LuaLimits(memoryBytes: 8 << 20, instructionsPerCall: 100_000, callTimeout: nil))
        let calls = Counter()
        lua.installModule("test", functions: [("touch", { _ throws(LuaCallError) in
            calls.increment()
            return []
        })])
        let ref = try #require(
            try lua.run(
                source: """
                    return function()
                      local co = coroutine.create(function() while true do end end)
                      coroutine.resume(co)   -- killed inside; resume returns false
                      for i = 1, 100 do test.touch() end
                    end
                    """, chunkName: "t.lua"))
        #expect(lua.call(ref, [], results: 0).limit == .cpu)
        #expect(calls.value == 0)
    }
}

/// A counter host functions can bump.
final class Counter: @unchecked Sendable {
    private(set) var value = 0
    func increment() { value += 1 }
}
