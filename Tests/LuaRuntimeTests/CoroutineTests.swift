import MoonwireCore
import Testing

@testable import LuaRuntime

/// Calls that wait: a host function suspends the call (`LuaCall.suspend`), the host resumes it with what
/// it waited for; the limits hold across the wait, and the state serves other calls meanwhile.
@Suite struct CoroutineTests {
    /// A state with `wait.ask(x)` (suspends with `x`, and returns what the call is resumed with) and
    /// `wait.can()` (whether a call may wait there).
    func lua(_ limits: LuaLimits = LuaLimits(memoryBytes: 8 << 20, instructionsPerCall: 1_000_000, callTimeout: .seconds(30))) throws -> LuaState {
        let lua = try LuaState(limits: limits)
        lua.installModule(
            "wait",
            functions: [
                ("ask", { call throws(LuaCallError) in try call.suspend(try call.string(1)) }),
                ("can", { call throws(LuaCallError) in [.bool(call.canSuspend)] }),
            ])
        return lua
    }

    func function(_ lua: LuaState, _ body: String) throws -> LuaRef {
        try #require(try lua.run(source: "return function(...)\n\(body)\nend", chunkName: "c.lua"))
    }

    @Test func aCallWaitsAndGoesOnWithWhatItWasResumedWith() throws {
        let lua = try lua()
        let co = lua.coroutine(try function(lua, "local a = ... local b = wait.ask('first ' .. a) local c = wait.ask('then ' .. b) return b .. c"), [.string("x")], results: 1)
        guard case .suspended(let first) = co.resume() else { Issue.record("did not wait"); return }
        #expect(first as? String == "first x")
        guard case .suspended(let second) = co.resume(with: [.string("B")]) else { Issue.record("did not wait again"); return }
        #expect(second as? String == "then B")
        guard case .done(let results) = co.resume(with: [.string("C")]) else { Issue.record("did not finish"); return }
        #expect(results.first == .value("BC"))
    }

    @Test func aWaitThatFailsRaisesAnErrorWhereTheScriptWaited() throws {
        let lua = try lua()
        let caught = lua.coroutine(try function(lua, "local ok, err = pcall(wait.ask, 'x') return err"), [], results: 1)
        guard case .suspended = caught.resume() else { Issue.record("did not wait"); return }
        guard case .done(let results) = caught.resume(failing: "redis is away") else { Issue.record("did not finish"); return }
        #expect(results.first == .value("redis is away"))
        let uncaught = lua.coroutine(try function(lua, "wait.ask('x') return 'not reached'"), [], results: 1)
        guard case .suspended = uncaught.resume() else { Issue.record("did not wait"); return }
        guard case .failed(let error) = uncaught.resume(failing: "redis is away") else { Issue.record("did not fail"); return }
        #expect(error.description.contains("redis is away"))
    }

    @Test func aWaitingCallReturnsTablesAfterOtherCallsRan() throws {
        let lua = try lua()
        let body = "local t = ... flag = true t.n = wait.ask('w') flag = false return t"
        let waiting = lua.coroutine(try function(lua, body), [.json(["slow": true])], results: 3)
        guard case .suspended = waiting.resume() else { Issue.record("did not wait"); return }
        let other = lua.coroutine(try function(lua, "local t = ... t.seen = flag return t"), [.json(["fast": true])], results: 3)
        guard case .done(let otherResults) = other.resume() else { Issue.record("the other call did not run"); return }
        #expect(otherResults.first == .value(["fast": true, "seen": true]))
        guard case .done(let results) = waiting.resume(with: [.json(1)]) else { Issue.record("did not finish"); return }
        #expect(results.first == .value(["slow": true, "n": 1]), "\(results)")
    }

    @Test func theStateServesOtherCallsWhileOneWaits() throws {
        let lua = try lua()
        let waiting = lua.coroutine(try function(lua, "counter = (counter or 0) + 1 return wait.ask('w') + counter"), [], results: 1)
        guard case .suspended = waiting.resume() else { Issue.record("did not wait"); return }
        // A plain call, and another coroutine from start to end, in between.
        #expect(try lua.call(try function(lua, "counter = counter + 10 return counter"), [], results: 1).get().first == .value(11))
        let other = lua.coroutine(try function(lua, "return 'other'"), [], results: 1)
        guard case .done(let otherResults) = other.resume() else { Issue.record("the other call did not run"); return }
        #expect(otherResults.first == .value("other"))
        guard case .done(let results) = waiting.resume(with: [.int(100)]) else { Issue.record("did not finish"); return }
        #expect(results.first == .value(111))
    }

    @Test func theBudgetHoldsAcrossWaits() throws {
        let lua = try lua(LuaLimits(memoryBytes: 8 << 20, instructionsPerCall: 50_000, callTimeout: nil))
        // Each part alone fits the budget; together they do not.
        let body = "for i = 1, 20000 do end wait.ask('a') for i = 1, 20000 do end wait.ask('b') for i = 1, 20000 do end return 'done'"
        let co = lua.coroutine(try function(lua, body), [], results: 1)
        var step = co.resume()
        var waits = 0
        while case .suspended = step {
            waits += 1
            // Plain calls in between start with a fresh budget of their own and leave the waiting call's alone.
            _ = lua.call(try function(lua, "for i = 1, 20000 do end"), [], results: 0)
            step = co.resume(with: [])
        }
        guard case .failed(let error) = step else { Issue.record("finished past its budget: \(step)"); return }
        #expect(error.limit == .cpu)
        #expect(waits >= 1)
    }

    @Test func aCallPastItsDeadlineWhileWaitingFailsWithTheTimeLimit() async throws {
        let lua = try lua(LuaLimits(memoryBytes: 8 << 20, instructionsPerCall: 0, callTimeout: .milliseconds(50)))
        let co = lua.coroutine(try function(lua, "wait.ask('slow') return 'late'"), [], results: 1)
        guard case .suspended = co.resume() else { Issue.record("did not wait"); return }
        #expect(co.deadline > 0)
        while !co.isPastDeadline { try await Task.sleep(for: .milliseconds(10)) }
        guard case .failed(let error) = co.resume(with: []) else { Issue.record("ran past its deadline"); return }
        #expect(error.limit == .time)
    }

    @Test func onlyTheCallItselfMayWait() throws {
        let lua = try lua()
        // A plain call cannot wait; nor can a coroutine the script makes.
        #expect(try lua.call(try function(lua, "return wait.can()"), [], results: 1).get().first == .bool(false))
        let co = lua.coroutine(
            try function(lua, "local inner = coroutine.wrap(function() return wait.can() end) return wait.can(), inner()"), [], results: 2)
        guard case .done(let results) = co.resume() else { Issue.record("did not finish"); return }
        #expect(results == [.bool(true), .bool(false)])
        let refused = lua.coroutine(try function(lua, "return coroutine.wrap(function() return wait.ask('x') end)()"), [], results: 1)
        guard case .failed(let error) = refused.resume() else { Issue.record("waited inside the script's coroutine"); return }
        #expect(error.description.contains("cannot wait here"))
    }

    @Test func aBareYieldAndErrorsFailTheCallWithAReason() throws {
        let lua = try lua()
        let yielding = lua.coroutine(try function(lua, "coroutine.yield(1) return 2"), [], results: 1)
        guard case .failed(let yieldError) = yielding.resume() else { Issue.record("a bare yield suspended the call"); return }
        #expect(yieldError.description.contains("coroutine.yield"))
        let failing = lua.coroutine(try function(lua, "wait.ask('x')\nerror('broken')"), [], results: 1)
        guard case .suspended = failing.resume() else { Issue.record("did not wait"); return }
        guard case .failed(let error) = failing.resume(with: []) else { Issue.record("did not fail"); return }
        #expect(error.description.contains("c.lua:3: broken"), "\(error)")
        // The state goes on.
        #expect(try lua.call(try function(lua, "return 1"), [], results: 1).get().first == .value(1))
    }
}
