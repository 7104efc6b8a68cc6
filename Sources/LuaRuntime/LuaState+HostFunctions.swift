import CLua
import CLuaShims
import MoonwireCore

/// A Swift function callable from Lua. It reads its arguments from the `LuaCall` and returns its results;
/// a thrown `LuaCallError` becomes a Lua error raised (from C) in the calling script.
public typealias LuaHostFunction = (LuaCall) throws(LuaCallError) -> [LuaValue]

/// An error a host function raises in the calling script.
public struct LuaCallError: Error, Sendable {
    public let message: String
    /// Raised as Lua's memory error (what the function would return does not fit under the memory cap).
    public let isOutOfMemory: Bool

    public init(_ message: String) {
        self.message = message
        self.isOutOfMemory = false
    }

    private init(outOfMemory message: String) {
        self.message = message
        self.isOutOfMemory = true
    }

    /// A memory error: the script sees Lua's own `not enough memory`, counted against its memory limit.
    public static func outOfMemory(_ message: String) -> LuaCallError { LuaCallError(outOfMemory: message) }
}

/// The arguments of one call from Lua into Swift.
public struct LuaCall {
    let state: LuaState
    /// Name of the function, for error messages.
    public let name: String

    /// Number of arguments.
    public var count: Int { Int(lua_gettop(state.L)) }

    /// Whether argument `index` (1-based) is absent or nil.
    public func isNil(_ index: Int) -> Bool {
        let type = lua_type(state.L, Int32(index))
        return type == LUA_TNIL || type == LUA_TNONE
    }

    /// Argument `index` as a string (numbers are not accepted).
    public func string(_ index: Int) throws(LuaCallError) -> String {
        guard let value = state.string(at: Int32(index)) else { throw error(index, "a string") }
        return value
    }

    /// Argument `index` as a string, or `nil` when absent.
    public func optionalString(_ index: Int) throws(LuaCallError) -> String? {
        isNil(index) ? nil : try string(index)
    }

    /// Argument `index` as a finite number (NaN and infinities are refused).
    public func number(_ index: Int) throws(LuaCallError) -> Double {
        guard lua_type(state.L, Int32(index)) == LUA_TNUMBER else { throw error(index, "a number") }
        var ok: Int32 = 0
        let value = mw_tonumber(state.L, Int32(index), &ok)
        guard value.isFinite else { throw LuaCallError("\(name): argument #\(index) must be a finite number, got \(value)") }
        return value
    }

    /// Argument `index` as a number within `range` (a clear error outside it, before any Swift arithmetic).
    public func number(_ index: Int, in range: ClosedRange<Double>) throws(LuaCallError) -> Double {
        let value = try number(index)
        guard range.contains(value) else {
            throw LuaCallError("\(name): argument #\(index) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    /// Argument `index` as a JSON number: an integer stays one, a float must be finite.
    public func numberValue(_ index: Int) throws(LuaCallError) -> JSONValue {
        guard lua_type(state.L, Int32(index)) == LUA_TNUMBER else { throw error(index, "a number") }
        var ok: Int32 = 0
        if mw_isinteger(state.L, Int32(index)) != 0 { return .int(mw_tointeger(state.L, Int32(index), &ok)) }
        return .double(try number(index))
    }

    /// Argument `index` as an integer (a float with an exact integer value is accepted).
    public func integer(_ index: Int) throws(LuaCallError) -> Int64 {
        guard lua_type(state.L, Int32(index)) == LUA_TNUMBER else { throw error(index, "an integer") }
        var ok: Int32 = 0
        if mw_isinteger(state.L, Int32(index)) != 0 { return mw_tointeger(state.L, Int32(index), &ok) }
        let d = mw_tonumber(state.L, Int32(index), &ok)
        guard d.rounded() == d, abs(d) < 9e15 else { throw error(index, "an integer") }
        return Int64(d)
    }

    /// Argument `index` as JSON (tables become objects or arrays).
    public func json(_ index: Int) throws(LuaCallError) -> JSONValue {
        do {
            return try state.json(at: Int32(index))
        } catch {
            throw LuaCallError("\(name): argument #\(index): \(error.message)")
        }
    }

    /// Argument `index` as a boolean (Lua truthiness).
    public func bool(_ index: Int) -> Bool {
        lua_toboolean(state.L, Int32(index)) != 0
    }

    /// Whether this host function may wait (`suspend`): it was called by a call running as a
    /// `LuaCoroutine`, not from a coroutine the script made or a call that cannot wait.
    public var canSuspend: Bool { mw_can_yield(state.L) != 0 }

    /// Suspends the calling coroutine until the host has done `operation`; the coroutine's owner gets it
    /// from `LuaCoroutine.resume` (`.suspended`) and resumes it with the values this function returns
    /// to the script. Only when `canSuspend`.
    public func suspend(_ operation: any Sendable) throws(LuaCallError) -> [LuaValue] {
        guard canSuspend else { throw LuaCallError("\(name): this call cannot wait here") }
        state.pendingSuspension = operation
        return []
    }

    /// Checks that argument `index` is a function, without keeping it.
    public func expectFunction(_ index: Int) throws(LuaCallError) {
        guard lua_type(state.L, Int32(index)) == LUA_TFUNCTION else { throw error(index, "a function") }
    }

    /// Argument `index`, a function, kept in the registry.
    public func function(_ index: Int) throws(LuaCallError) -> LuaRef {
        try expectFunction(index)
        lua_pushvalue(state.L, Int32(index))
        return LuaRef(id: mw_ref(state.L))
    }

    /// Argument `index` kept in the registry as is (any type).
    public func reference(_ index: Int) -> LuaRef {
        lua_pushvalue(state.L, Int32(index))
        return LuaRef(id: mw_ref(state.L))
    }

    func error(_ index: Int, _ expected: String) -> LuaCallError {
        let got = String(cString: lua_typename(state.L, lua_type(state.L, Int32(index))))
        return LuaCallError("\(name): argument #\(index) must be \(expected), got \(got)")
    }
}

extension LuaState {
    /// The one C-callable entry point for every host function of every state.
    private static let dispatch: mw_host_dispatch = { L, functionID, context in
        guard let L, let context else { return -2 }
        let state = Unmanaged<LuaState>.fromOpaque(context).takeUnretainedValue()
        guard functionID >= 0, Int(functionID) < state.hostFunctions.count else { return -2 }
        // Called from a coroutine: its arguments are on its own stack, and so go its results.
        let caller = state.L
        state.L = L
        defer { state.L = caller }
        let entry = state.hostFunctions[Int(functionID)]
        let call = LuaCall(state: state, name: entry.name)
        let results: [LuaValue]
        do throws(LuaCallError) {
            results = try entry.function(call)
        } catch {
            state.pendingSuspension = nil
            if error.isOutOfMemory { return MW_HOST_OUT_OF_MEMORY }
            state.pushString(error.message)
            return MW_HOST_ERROR
        }
        if state.pendingSuspension != nil { return MW_HOST_YIELD }
        _ = lua_checkstack(L, Int32(results.count) + 2)
        // Results are made outside the memory cap (no Lua error may cross Swift frames): one that would
        // take the state past it is cut short, and the script gets a memory error instead.
        let base = lua_gettop(L)
        let cap = state.memoryLimit
        state.resultLimit = cap > 0 ? cap : 0
        state.pushedValues = 0
        defer {
            state.resultLimit = 0
            state.resultOverflowed = false
        }
        for result in results {
            state.push(result)
            if cap > 0, Int(state.limits.pointee.used) > cap { state.resultOverflowed = true }
            if state.resultOverflowed {
                lua_settop(L, base)
                return MW_HOST_OUT_OF_MEMORY
            }
        }
        return Int32(results.count)
    }

    private static let dispatcherInstalled: Void = {
        mw_set_dispatch(dispatch)
    }()

    static func installDispatcher() {
        _ = dispatcherInstalled
    }

    /// Registers `function` and pushes it as a Lua function value.
    private func pushHostFunction(name: String, _ function: @escaping LuaHostFunction) {
        hostFunctions.append(HostFunctionEntry(name: name, function: function))
        mw_push_host_function(L, Int32(hostFunctions.count - 1), Unmanaged.passUnretained(self).toOpaque())
    }

    /// Installs a global table of host functions (`hub`), with nested tables for dotted names
    /// (`store.get` lands in `hub.store.get`), and plain values.
    public func installModule(_ name: String, functions: [(String, LuaHostFunction)], values: [(String, LuaValue)] = []) {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        mw_newtable(L)
        let module = lua_gettop(L)
        for (path, function) in functions {
            let parts = path.split(separator: ".").map(String.init)
            var table = module
            for part in parts.dropLast() {
                pushString(part)
                lua_rawget(L, table)
                if lua_type(L, -1) != LUA_TTABLE {
                    mw_pop(L, 1)
                    mw_newtable(L)
                    pushString(part)
                    lua_pushvalue(L, -2)
                    lua_rawset(L, table)
                }
                table = lua_gettop(L)
            }
            pushString(parts.last ?? path)
            pushHostFunction(name: "\(name).\(path)", function)
            lua_rawset(L, table)
        }
        for (key, value) in values {
            pushString(key)
            push(value)
            lua_rawset(L, module)
        }
        if let copy = copyFunction {
            pushString("copy")
            lua_rawgeti(L, mw_registryindex(), lua_Integer(copy.id))
            lua_rawset(L, module)
        }
        lua_rawgeti(L, mw_registryindex(), lua_Integer(LUA_RIDX_GLOBALS))
        pushString(name)
        lua_pushvalue(L, module)
        lua_rawset(L, -3)
    }

    /// The value `hub.null` and arrays marked with `hub.array()` need; exposed for the module.
    public var nullValue: LuaValue { .null }

    /// Host function body that marks a table as a JSON array (`hub.array(t)`) and returns it. A table with a
    /// metatable of its own (a read-only view, say) is refused: marking it would replace that metatable.
    public static func markArray(_ call: LuaCall) throws(LuaCallError) -> [LuaValue] {
        if call.isNil(1) {
            lua_settop(call.state.L, 1)
            mw_newtable(call.state.L)
            lua_copy(call.state.L, -1, 1)
        }
        guard lua_type(call.state.L, 1) == LUA_TTABLE else { throw call.error(1, "a table") }
        guard !call.state.hasForeignMetatable(at: 1) else {
            throw LuaCallError("\(call.name): the table has a metatable of its own (a read-only table?): mark a copy (hub.copy(t))")
        }
        call.state.markArray(at: 1)
        lua_settop(call.state.L, 1)
        return [.stackTop]
    }
}

struct HostFunctionEntry {
    let name: String
    let function: LuaHostFunction
}
