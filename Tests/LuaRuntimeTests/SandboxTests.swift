import LuaRuntime
import MoonwireCore
import Testing

@Suite struct SandboxTests {
    func state(_ limits: LuaLimits = LuaLimits()) throws -> LuaState {
        try LuaState(limits: limits)
    }

    /// Runs `source` as a chunk returning a value.
    func evaluate(_ source: String, limits: LuaLimits = LuaLimits()) throws -> LuaResult {
        let lua = try state(limits)
        guard let ref = try lua.run(source: "return function() \(source) end", chunkName: "test.lua") else { return .none }
        return try lua.call(ref, [], results: 1).get().first ?? .none
    }

    @Test(arguments: ["io", "os", "debug", "package", "require", "load", "loadfile", "dofile", "collectgarbage", "rawset", "print"])
    func dangerousGlobalsAreAbsent(_ name: String) throws {
        #expect(try evaluate("return \(name) == nil") == .bool(true))
    }

    @Test func safeLibrariesArePresent() throws {
        #expect(try evaluate("return type(string.format) == 'function' and type(table.concat) == 'function' and type(math.floor) == 'function' and type(utf8.char) == 'function' and type(coroutine.wrap) == 'function' and type(pcall) == 'function'") == .bool(true))
    }

    @Test func stringDumpIsRemoved() throws {
        #expect(try evaluate("return string.dump == nil and ('').dump == nil") == .bool(true))
    }

    @Test func stringMetatableIsProtected() throws {
        #expect(try evaluate("return getmetatable('') == false") == .bool(true))
        #expect(try evaluate("return (pcall(function() return getmetatable('').__index end))") == .bool(false))
        #expect(try evaluate("return (pcall(setmetatable, '', {}))") == .bool(false))
        // A plugin may change its own copy of the string library; other states are untouched.
        let one = try state()
        let other = try state()
        let change = try #require(try one.run(source: "return function() string.upper = nil return ('x').upper == nil end", chunkName: "a.lua"))
        #expect(try one.call(change, [], results: 1).get() == [.bool(true)])
        let use = try #require(try other.run(source: "return function() return ('x'):upper() end", chunkName: "b.lua"))
        #expect(try other.call(use, [], results: 1).get() == [.value("X")])
    }

    @Test func finalizersAreRefused() throws {
        #expect(try evaluate("return (pcall(setmetatable, {}, {__gc = function() while true do end end}))") == .bool(false))
        #expect(try evaluate("return getmetatable(setmetatable({}, {__index = {a = 1}})).__index.a") == .value(1))
    }

    @Test func bytecodeIsRefused() throws {
        let lua = try state()
        #expect(throws: LuaError.self) {
            _ = try lua.run(source: "\u{1B}Lua\u{54}\u{00}", chunkName: "evil.lua")
        }
    }

    @Test func reachingTheRealEnvironmentThroughMetatablesFails() throws {
        #expect(try evaluate("return _G.io == nil and _ENV.os == nil") == .bool(true))
        #expect(try evaluate("local ok = pcall(function() return getmetatable('').__index end) return ok") == .bool(false))
    }

    @Test func syntaxErrorsNameTheChunkAndLine() throws {
        let lua = try state()
        do {
            _ = try lua.run(source: "local x = 1\nlocal y = = 2\n", chunkName: "plugins/broken.lua")
            Issue.record("expected a syntax error")
        } catch {
            guard case .syntax(let message) = error else { Issue.record("got \(error)"); return }
            #expect(message.contains("plugins/broken.lua:2:"))
        }
    }

    @Test func runtimeErrorsCarryATraceback() throws {
        let lua = try state()
        let ref = try #require(try lua.run(source: "local function inner() error('boom') end\nreturn function() inner() end", chunkName: "plugins/x.lua"))
        guard case .failure(.runtime(let message, let traceback)) = lua.call(ref, [], results: 0) else {
            Issue.record("expected a runtime error"); return
        }
        #expect(message.contains("plugins/x.lua:1: boom"))
        #expect(traceback.contains("stack traceback"))
        #expect(traceback.contains("inner"))
    }

    @Test func nonStringErrorValuesAreReported() throws {
        let lua = try state()
        let ref = try #require(try lua.run(source: "return function() error({code = 1}) end", chunkName: "t.lua"))
        guard case .failure(.runtime(let message, _)) = lua.call(ref, [], results: 0) else { Issue.record("expected error"); return }
        #expect(message.contains("table value"))
        let withToString = try #require(try lua.run(
            source: "return function() error(setmetatable({}, {__tostring = function() return 'custom' end})) end", chunkName: "t.lua"))
        guard case .failure(.runtime(let custom, _)) = lua.call(withToString, [], results: 0) else { Issue.record("expected error"); return }
        #expect(custom.contains("custom"))
    }
}

@Suite struct LimitTests {
    let tight = LuaLimits(memoryBytes: 4 << 20, instructionsPerCall: 2_000_000, callTimeout: .seconds(2))

    func call(_ body: String, limits: LuaLimits) throws -> (LuaState, Result<[LuaResult], LuaError>) {
        let lua = try LuaState(limits: limits)
        let ref = try #require(try lua.run(source: "return function() \(body) end", chunkName: "t.lua"))
        return (lua, lua.call(ref, [], results: 1))
    }

    @Test func endlessLoopIsStoppedByTheBudget() throws {
        let (_, result) = try call("while true do end", limits: tight)
        #expect(result.limit == .cpu)
    }

    @Test func pcallCannotSwallowTheKill() throws {
        let (lua, result) = try call("while true do pcall(function() while true do end end) end", limits: tight)
        #expect(result.limit == .cpu)
        // The state is usable afterwards.
        let ok = try #require(try lua.run(source: "return function() return 1 + 1 end", chunkName: "t.lua"))
        #expect(try lua.call(ok, [], results: 1).get() == [.value(2)])
    }

    @Test func coroutinesCannotHideFromTheBudget() throws {
        let (_, result) = try call(
            "local co = coroutine.wrap(function() while true do end end) while true do pcall(co) end", limits: tight)
        #expect(result.limit == .cpu)
    }

    @Test func errorHandlersCannotSwallowTheKillEither() throws {
        let (_, result) = try call("while true do xpcall(function() while true do end end, function() while true do end end) end", limits: tight)
        #expect(result.limit == .cpu)
    }

    @Test func memoryBombIsStopped() throws {
        let (lua, result) = try call("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 100) .. i end", limits: tight)
        #expect(result.limit == .memory)
        #expect(lua.memoryPeak <= (4 << 20) + 4096)
        let big = try call("return string.rep('x', 1e9)", limits: tight).1
        #expect(big.limit == .memory)
    }

    @Test func deepRecursionIsAnErrorNotACrash() throws {
        let (_, result) = try call("local function f(n) return f(n + 1) + 1 end return f(1)", limits: LuaLimits(memoryBytes: 64 << 20))
        guard case .failure(let error) = result else { Issue.record("expected an error"); return }
        #expect(error.limit == .memory || error.description.contains("stack overflow"))
    }

    @Test func slowInstructionsHitTheDeadline() throws {
        let limits = LuaLimits(memoryBytes: 256 << 20, instructionsPerCall: 0, callTimeout: .milliseconds(100), checkInterval: 100)
        let (_, result) = try call("local s = string.rep('x', 1000000) while true do local t = s .. 'y' end", limits: limits)
        #expect(result.limit == .time)
    }

    @Test func aStateSurvivesALimitHitAndKeepsItsData() throws {
        let lua = try LuaState(limits: tight)
        let module = try #require(try lua.run(source: """
            local count = 0
            return {
              bump = function() count = count + 1 return count end,
              spin = function() while true do end end,
            }
            """, chunkName: "t.lua"))
        let bump = try #require(lua.fieldRef(module, "bump", ofType: .function))
        let spin = try #require(lua.fieldRef(module, "spin", ofType: .function))
        #expect(try lua.call(bump, [], results: 1).get() == [.value(1)])
        #expect(lua.call(spin, [], results: 0).limit == .cpu)
        #expect(try lua.call(bump, [], results: 1).get() == [.value(2)])
    }
}

@Suite struct KillEscapeTests {
    let tight = LuaLimits(memoryBytes: 4 << 20, instructionsPerCall: 1_000_000, callTimeout: .seconds(2))

    func run(_ body: String) throws -> Result<[LuaResult], LuaError> {
        let lua = try LuaState(limits: tight)
        let ref = try #require(try lua.run(source: "return function() \(body) end", chunkName: "t.lua"))
        return lua.call(ref, [], results: 1)
    }

    @Test func aLoopingErrorObjectToStringCannotEscape() throws {
        let result = try run("error(setmetatable({}, {__tostring = function() while true do end end}))")
        #expect(result.limit == .cpu)
    }

    @Test func aToBeClosedVariableCannotEscape() throws {
        let result = try run("""
            local guard <close> = setmetatable({}, {__close = function() while true do end end})
            while true do end
            """)
        #expect(result.limit == .cpu)
    }
}

extension Result where Failure == LuaError {
    /// The limit that stopped the call, if it failed on one.
    var limit: LuaLimit? {
        if case .failure(let error) = self { return error.limit }
        return nil
    }
}
