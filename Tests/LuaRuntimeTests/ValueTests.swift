import LuaRuntime
import MoonwireCore
import Testing

@Suite struct ValueTests {
    func roundTrip(_ value: JSONValue) throws -> LuaResult {
        let lua = try LuaState(limits: LuaLimits())
        let identity = try #require(try lua.run(source: "return function(x) return x end", chunkName: "t.lua"))
        return try lua.call(identity, [.json(value)], results: 1).get()[0]
    }

    @Test func jsonRoundTripsThroughLua() throws {
        let value: JSONValue = [
            "text": "héllo", "int": 42, "float": 1.5, "yes": true,
            "list": [1, 2, 3], "nested": ["deep": ["a": "b"]], "none": nil,
        ]
        #expect(try roundTrip(value) == .value(value))
    }

    @Test func emptyArraysStayArraysAndEmptyObjectsStayObjects() throws {
        #expect(try roundTrip(["list": [], "map": [:]]) == .value(["list": [], "map": [:]]))
    }

    @Test func hostFunctionsSeeArgumentsAndReturnValues() throws {
        let lua = try LuaState(limits: LuaLimits())
        lua.installModule("hub", functions: [
            ("add", { call throws(LuaCallError) in [.int(try call.integer(1) + call.integer(2))] }),
            ("echo.json", { call throws(LuaCallError) in [.json(try call.json(1))] }),
            ("fail", { _ throws(LuaCallError) in throw LuaCallError("nope") }),
        ], values: [("version", .string("1"))])
        let f = try #require(try lua.run(source: """
            return function()
              local ok, err = pcall(hub.fail)
              return { sum = hub.add(2, 3), echoed = hub.echo.json({a = {1, 2}}), failed = err, version = hub.version,
                       copy = hub.copy({x = 1}) }
            end
            """, chunkName: "t.lua"))
        let result = try lua.call(f, [], results: 1).get()[0]
        #expect(result == .value(["sum": 5, "echoed": ["a": [1, 2]], "failed": "nope", "version": "1", "copy": ["x": 1]]))
    }

    @Test func hostFunctionArgumentErrorsAreLuaErrors() throws {
        let lua = try LuaState(limits: LuaLimits())
        lua.installModule("hub", functions: [("add", { call throws(LuaCallError) in [.int(try call.integer(1))] })])
        let f = try #require(try lua.run(source: "return function() return hub.add('x') end", chunkName: "t.lua"))
        guard case .failure(.runtime(let message, _)) = lua.call(f, [], results: 1) else { Issue.record("expected error"); return }
        #expect(message.contains("hub.add: argument #1 must be an integer, got string"))
    }

    @Test func frozenTablesAreReadableButNotWritable() throws {
        let lua = try LuaState(limits: LuaLimits())
        let event = lua.makeRef(.json(["data": ["secret": "s", "list": [1, 2]], "type": "message"]), frozen: true)
        let read = try #require(try lua.run(source: """
            return function(e)
              local keys = {}
              for k in pairs(e.data) do keys[#keys + 1] = k end
              table.sort(keys)
              return { secret = e.data.secret, n = #e.data.list, keys = table.concat(keys, ","),
                       write = select(2, pcall(function() e.data.secret = nil end)),
                       add = select(2, pcall(function() e.extra = 1 end)),
                       meta = select(2, pcall(setmetatable, e, nil)) }
            end
            """, chunkName: "t.lua"))
        let result = try lua.call(read, [.ref(event)], results: 1).get()[0]
        guard case .value(let object) = result else { Issue.record("no value"); return }
        #expect(object["secret"] == "s")
        #expect(object["n"] == 2)
        #expect(object["keys"] == "list,secret")
        #expect(object["write"]?.stringValue?.contains("read-only") == true)
        #expect(object["add"]?.stringValue?.contains("read-only") == true)
        #expect(object["meta"]?.stringValue?.contains("protected") == true)
        // The frozen value still reads back as the same JSON.
        let identity = try #require(try lua.run(source: "return function(x) return x end", chunkName: "t.lua"))
        #expect(try lua.call(identity, [.ref(event)], results: 1).get()[0] == .value(["data": ["secret": "s", "list": [1, 2]], "type": "message"]))
    }

    @Test func functionsInTablesAreReportedAsUnreadable() throws {
        let lua = try LuaState(limits: LuaLimits())
        let f = try #require(try lua.run(source: "return function() return { f = print or function() end } end", chunkName: "t.lua"))
        guard case .unreadable(let reason) = try lua.call(f, [], results: 1).get()[0] else { Issue.record("expected unreadable"); return }
        #expect(reason.contains("function"))
    }
}
