import CLua
import CLuaShims
import MoonwireCore

/// One sandboxed Lua 5.4 state with a memory cap, a CPU budget and a deadline per call.
///
/// This file and its extensions are the only code that touches the Lua C API. Calls into Lua are
/// protected (errors come back as `LuaError` with a traceback), and Lua errors are raised only from C,
/// never through a Swift frame. A state is not thread-safe: its owner serialises access.
public final class LuaState {
    /// The thread the state's functions work on: the main thread, or, while a host function runs, the
    /// coroutine that called it (its arguments and results are on that thread's stack).
    var L: OpaquePointer
    /// The state's main thread.
    let mainThread: OpaquePointer
    let limits: UnsafeMutablePointer<mw_limits>
    /// Swift functions callable from Lua, by id.
    var hostFunctions: [HostFunctionEntry] = []
    private var prelude: (freeze: LuaRef, copy: LuaRef)?
    /// How much one conversion of a Lua value to JSON may produce.
    var conversionLimits: (values: Int, bytes: Int) = (100_000, 8 << 20)
    /// While a host function's results are pushed: the most bytes the state may hold (0: no check).
    var resultLimit = 0
    /// Values pushed under `resultLimit` (the limit is checked every 64).
    var pushedValues = 0
    /// A result was cut short because it would not fit under `resultLimit`.
    var resultOverflowed = false
    /// What the host function that just returned asked to wait for (`LuaCall.suspend`).
    var pendingSuspension: (any Sendable)?
    /// Lua threads of finished coroutines, kept for the next ones (with their registry references).
    var spareThreads: [(thread: OpaquePointer, ref: Int32)] = []

    /// The `__metatable` of the read-only views the host makes.
    static let readOnlyMarker = "read-only"

    /// A new sandboxed state (base, string, table, math, utf8, coroutine; no io, os, debug, package, load).
    public init(limits: LuaLimits) throws(LuaError) {
        self.limits = .allocate(capacity: 1)
        self.limits.initialize(to: mw_limits())
        guard let state = mw_newstate(self.limits) else {
            self.limits.deallocate()
            throw .limit(.memory, location: "", traceback: "")
        }
        self.L = state
        self.mainThread = state
        LuaState.installDispatcher()
        apply(limits)
        if mw_open_sandbox(L) != LUA_OK {
            let error = popError(status: LUA_ERRRUN)
            mw_close(L)
            self.limits.deallocate()
            throw error
        }
        try loadPrelude()
    }

    deinit {
        mw_close(mainThread)
        limits.deallocate()
    }

    /// Changes the limits for the following calls.
    public func apply(_ newLimits: LuaLimits) {
        limits.pointee.limit = newLimits.memoryBytes > 0 ? size_t(newLimits.memoryBytes) : 0
        limits.pointee.budget_per_call = newLimits.instructionsPerCall
        limits.pointee.call_timeout_ns = newLimits.callTimeout?.nanoseconds ?? 0
        limits.pointee.hook_step = newLimits.checkInterval
        conversionLimits = (newLimits.conversionValues, newLimits.conversionBytes)
    }

    /// The memory cap in bytes (0: none).
    public var memoryLimit: Int { Int(limits.pointee.limit) }

    /// Stops the running call at its next Lua instruction (it fails with the time limit). Safe to call from
    /// any thread while another runs the state; a call inside a long C function stops once that returns.
    public func interrupt() {
        mw_interrupt(mainThread)
    }

    /// Bytes the state holds now.
    public var memoryUsed: Int { Int(limits.pointee.used) }

    /// Most bytes the state has held.
    public var memoryPeak: Int { Int(limits.pointee.peak) }

    // MARK: Loading

    /// Compiles `source` (text only; bytecode is refused) without running it: a reference to the chunk's
    /// function. `chunkName` appears in error messages, e.g. `plugins/lib/text.lua`.
    public func compile(source: String, chunkName: String) throws(LuaError) -> LuaRef {
        let length = source.utf8.count
        let status = source.withCString { pointer in
            mw_load_text(L, pointer, length, "@" + chunkName)
        }
        guard status == LUA_OK else {
            throw popError(status: status == LUA_ERRSYNTAX ? LUA_ERRSYNTAX : status)
        }
        return LuaRef(id: mw_ref(L))
    }

    /// Compiles `source` (text only; bytecode is refused) and runs it, returning its first result.
    /// `chunkName` appears in error messages, e.g. `plugins/auth.lua`.
    public func run(source: String, chunkName: String) throws(LuaError) -> LuaRef? {
        let length = source.utf8.count
        let status = source.withCString { pointer in
            mw_load_text(L, pointer, length, "@" + chunkName)
        }
        guard status == LUA_OK else {
            throw popError(status: status == LUA_ERRSYNTAX ? LUA_ERRSYNTAX : status)
        }
        let callStatus = mw_pcall(L, 0, 1)
        guard callStatus == LUA_OK else { throw popError(status: callStatus) }
        if lua_type(L, -1) == LUA_TNIL {
            mw_pop(L, 1)
            return nil
        }
        return LuaRef(id: mw_ref(L))
    }

    // MARK: Calling

    /// Calls the function `function` with `arguments`; returns up to `results` results, converted.
    public func call(_ function: LuaRef, _ arguments: [LuaValue], results: Int32) -> Result<[LuaResult], LuaError> {
        let base = lua_gettop(L)
        lua_rawgeti(L, mw_registryindex(), lua_Integer(function.id))
        guard lua_type(L, -1) == LUA_TFUNCTION else {
            lua_settop(L, base)
            return .failure(.runtime(message: "not a function", traceback: ""))
        }
        _ = lua_checkstack(L, Int32(arguments.count) + 8)
        for argument in arguments { push(argument) }
        let status = mw_pcall(L, Int32(arguments.count), results)
        guard status == LUA_OK else {
            let error = popError(status: status)
            lua_settop(L, base)
            return .failure(error)
        }
        var values: [LuaResult] = []
        values.reserveCapacity(Int(results))
        for index in 0..<results {
            values.append(result(at: base + 1 + index))
        }
        lua_settop(L, base)
        return .success(values)
    }

    /// Reads a field of a table held in the registry (raw access, no metamethods).
    public func field(_ table: LuaRef, _ key: String) -> LuaResult {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        lua_rawgeti(L, mw_registryindex(), lua_Integer(table.id))
        guard lua_type(L, -1) == LUA_TTABLE else { return .none }
        lua_pushstring(L, key)
        lua_rawget(L, -2)
        return result(at: -1)
    }

    /// A registry reference to a field of a table when it is a function (or a table, with `tables`).
    public func fieldRef(_ table: LuaRef, _ key: String, ofType expected: LuaType) -> LuaRef? {
        let base = lua_gettop(L)
        lua_rawgeti(L, mw_registryindex(), lua_Integer(table.id))
        guard lua_type(L, -1) == LUA_TTABLE else {
            lua_settop(L, base)
            return nil
        }
        lua_pushstring(L, key)
        lua_rawget(L, -2)
        guard lua_type(L, -1) == expected.rawValue else {
            lua_settop(L, base)
            return nil
        }
        let ref = LuaRef(id: mw_ref(L))
        lua_settop(L, base)
        return ref
    }

    /// The type of a value held in the registry.
    public func type(of ref: LuaRef) -> LuaType {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        return LuaType(rawValue: lua_rawgeti(L, mw_registryindex(), lua_Integer(ref.id))) ?? .none
    }

    /// The type of a table's field.
    public func fieldType(_ table: LuaRef, _ key: String) -> LuaType? {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        lua_rawgeti(L, mw_registryindex(), lua_Integer(table.id))
        guard lua_type(L, -1) == LUA_TTABLE else { return nil }
        lua_pushstring(L, key)
        lua_rawget(L, -2)
        return LuaType(rawValue: lua_type(L, -1))
    }

    /// The string keys of a table held in the registry.
    public func keys(_ table: LuaRef) -> [String] {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        lua_rawgeti(L, mw_registryindex(), lua_Integer(table.id))
        guard lua_type(L, -1) == LUA_TTABLE else { return [] }
        var keys: [String] = []
        lua_pushnil(L)
        while lua_next(L, -2) != 0 {
            if lua_type(L, -2) == LUA_TSTRING, let key = string(at: -2) { keys.append(key) }
            mw_pop(L, 1)
        }
        return keys
    }

    /// Stores a value in the registry and returns its reference. `frozen` makes tables read-only for Lua.
    public func makeRef(_ value: LuaValue, frozen: Bool = false) -> LuaRef {
        push(value)
        if frozen, lua_type(L, -1) == LUA_TTABLE, let freeze = prelude?.freeze {
            let base = lua_gettop(L) - 1
            lua_rawgeti(L, mw_registryindex(), lua_Integer(freeze.id))
            lua_rotate(L, -2, 1)
            if mw_pcall(L, 1, 1) != LUA_OK {
                lua_settop(L, base)
                lua_pushnil(L)
            }
        }
        return LuaRef(id: mw_ref(L))
    }

    /// Releases a reference.
    public func release(_ ref: LuaRef) {
        mw_unref(L, ref.id)
    }

    /// Sets a field of a global table (`hub.config`); does nothing if the global is not a table.
    public func setModuleField(_ module: String, _ key: String, _ value: LuaValue) {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        lua_rawgeti(L, mw_registryindex(), lua_Integer(LUA_RIDX_GLOBALS))
        pushString(module)
        guard lua_rawget(L, -2) == LUA_TTABLE else { return }
        pushString(key)
        push(value)
        lua_rawset(L, -3)
    }

    /// Sets a global variable.
    public func setGlobal(_ name: String, _ value: LuaValue) {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        lua_rawgeti(L, mw_registryindex(), lua_Integer(LUA_RIDX_GLOBALS))
        pushString(name)
        push(value)
        lua_rawset(L, -3)
    }

    /// Runs a full garbage collection.
    public func collectGarbage() {
        mw_gc_collect(L)
    }

    // MARK: Errors

    /// Pops the error on top of the stack and classifies it by what stopped the call.
    func popError(status: Int32) -> LuaError {
        let text = string(at: -1) ?? "(error object is not a string)"
        mw_pop(L, 1)
        let (message, traceback) = Self.splitTraceback(text)
        let limit: LuaLimit?
        switch Int32(limits.pointee.stop_reason) {
        case Int32(MW_STOP_MEMORY.rawValue): limit = .memory
        case Int32(MW_STOP_BUDGET.rawValue): limit = .cpu
        case Int32(MW_STOP_DEADLINE.rawValue): limit = .time
        default: limit = status == LUA_ERRMEM ? .memory : nil
        }
        if let limit { return .limit(limit, location: LuaError.location(in: message) ?? "", traceback: traceback) }
        if status == LUA_ERRSYNTAX { return .syntax(message) }
        return .runtime(message: message, traceback: traceback)
    }

    /// Splits a message from the traceback the message handler appended.
    private static func splitTraceback(_ text: String) -> (message: String, traceback: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let index = lines.firstIndex(where: { $0 == "stack traceback:" }) else { return (text, "") }
        return (lines[..<index].joined(separator: "\n"), lines[index...].joined(separator: "\n"))
    }

    // MARK: Prelude

    /// Helpers kept out of the plugins' reach: `freeze` (read-only views of shared tables) and `copy`.
    private static let preludeSource = """
        local setmetatable, type, next, error = setmetatable, type, next, error
        local function readonly()
          error("this table is read-only here: change a copy (hub.copy(t)) and return it", 2)
        end
        local function freeze(t)
          for k, v in next, t do
            if type(v) == "table" then t[k] = freeze(v) end
          end
          return setmetatable({}, {
            __index = t, __newindex = readonly, __metatable = "read-only",
            __len = function() return #t end,
            __pairs = function()
              local key
              return function()
                local value
                key, value = next(t, key)
                return key, value
              end
            end,
          })
        end
        local function copy(v, depth)
          depth = depth or 0
          if type(v) ~= "table" then return v end
          if depth > 32 then error("table nested too deeply to copy", 2) end
          local out = {}
          for k, x in pairs(v) do out[k] = copy(x, depth + 1) end
          return out
        end
        return { freeze = freeze, copy = copy }
        """

    private func loadPrelude() throws(LuaError) {
        guard let table = try run(source: Self.preludeSource, chunkName: "moonwire/prelude") else {
            throw .runtime(message: "prelude returned nothing", traceback: "")
        }
        guard let freeze = fieldRef(table, "freeze", ofType: .function), let copy = fieldRef(table, "copy", ofType: .function) else {
            throw .runtime(message: "prelude incomplete", traceback: "")
        }
        release(table)
        prelude = (freeze, copy)
    }

    /// The prelude's deep-copy function (for `hub.copy`).
    public var copyFunction: LuaRef? { prelude?.copy }
}

/// Lua value types, as `lua_type` reports them.
public enum LuaType: Int32, Sendable {
    case none = -1
    case `nil` = 0
    case boolean = 1
    case lightUserdata = 2
    case number = 3
    case string = 4
    case table = 5
    case function = 6
    case userdata = 7
    case thread = 8
}
