import CLua
import CLuaShims
import MoonwireCore

extension LuaState {
    /// The light userdata that stands for JSON `null` in Lua (`hub.null`).
    nonisolated(unsafe) static let nullSentinel = UnsafeMutableRawPointer(bitPattern: 0x6E75_6C6C)!

    /// Tables with this metatable are JSON arrays even when empty (`hub.array()`).
    static let arrayMarkerKey = "moonwire.array"

    /// Pushes a value onto the stack.
    func push(_ value: LuaValue) {
        switch value {
        case .nilValue: lua_pushnil(L)
        case .null: lua_pushlightuserdata(L, Self.nullSentinel)
        case .bool(let b): lua_pushboolean(L, b ? 1 : 0)
        case .int(let i): lua_pushinteger(L, lua_Integer(i))
        case .double(let d): lua_pushnumber(L, d)
        case .string(let s): pushString(s)
        case .json(let json): push(json, depth: 0)
        case .table(let fields):
            _ = lua_checkstack(L, 4)
            lua_createtable(L, 0, Int32(fields.count))
            for field in fields {
                pushString(field.key)
                push(field.value)
                lua_rawset(L, -3)
            }
        case .ref(let ref): lua_rawgeti(L, mw_registryindex(), lua_Integer(ref.id))
        case .stackTop: lua_pushvalue(L, -1)
        }
    }

    func pushString(_ s: String) {
        var s = s
        s.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                _ = lua_pushlstring(L, chars.baseAddress, chars.count)
            }
        }
    }

    /// Pushes a JSON value: objects and arrays become tables (arrays 1-based), `null` becomes `hub.null`.
    func push(_ json: JSONValue, depth: Int) {
        _ = lua_checkstack(L, 4)
        switch json {
        case .null: lua_pushlightuserdata(L, Self.nullSentinel)
        case .bool(let b): lua_pushboolean(L, b ? 1 : 0)
        case .int(let i): lua_pushinteger(L, lua_Integer(i))
        case .double(let d): lua_pushnumber(L, d)
        case .string(let s): pushString(s)
        case .array(let array):
            lua_createtable(L, Int32(array.count), 0)
            for (index, element) in array.enumerated() {
                push(element, depth: depth + 1)
                lua_rawseti(L, -2, lua_Integer(index + 1))
            }
            if array.isEmpty { markArray(at: -1) }
        case .object(let object):
            lua_createtable(L, 0, Int32(object.count))
            for member in object {
                pushString(member.key)
                push(member.value, depth: depth + 1)
                lua_rawset(L, -3)
            }
        }
    }

    /// Gives the table at `index` the array marker metatable.
    func markArray(at index: Int32) {
        let absolute = lua_absindex(L, index)
        if pushArrayMetatable() == LUA_TNIL {
            mw_pop(L, 1)
            _ = luaL_newmetatable(L, Self.arrayMarkerKey)
        }
        lua_setmetatable(L, absolute)
    }

    /// Pushes the array marker metatable (or nil) from the registry; returns its type.
    private func pushArrayMetatable() -> Int32 {
        pushString(Self.arrayMarkerKey)
        return lua_rawget(L, mw_registryindex())
    }

    /// The string at `index` (strings only; numbers are not converted).
    func string(at index: Int32) -> String? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let pointer = mw_tolstring(L, index, &length) else { return nil }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// The value at `index`, converted.
    func result(at index: Int32) -> LuaResult {
        switch lua_type(L, index) {
        case LUA_TNONE, LUA_TNIL: return .none
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, index) != 0)
        case LUA_TFUNCTION: return .function
        default:
            do {
                return .value(try json(at: index))
            } catch {
                return .unreadable(error.message)
            }
        }
    }

    /// Converts the value at `index` to JSON. Tables with keys 1...n are arrays, others objects
    /// (number keys become strings); functions and other non-data values are an error.
    func json(at index: Int32, depth: Int = 0) throws(LuaConversionError) -> JSONValue {
        let index = lua_absindex(L, index)
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE: return .null
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            var isInt: Int32 = 0
            if mw_isinteger(L, index) != 0 { return .int(mw_tointeger(L, index, &isInt)) }
            let d = mw_tonumber(L, index, &isInt)
            guard d.isFinite else { throw LuaConversionError(message: "numbers must be finite") }
            return .double(d)
        case LUA_TSTRING: return .string(string(at: index) ?? "")
        case LUA_TLIGHTUSERDATA:
            if lua_touserdata(L, index) == Self.nullSentinel { return .null }
            throw LuaConversionError(message: "cannot convert a userdata to JSON")
        case LUA_TTABLE:
            guard depth < 32 else { throw LuaConversionError(message: "table nested more than 32 levels (a cycle?)") }
            return try table(at: index, depth: depth)
        default:
            throw LuaConversionError(message: "cannot convert a \(String(cString: luaL_typename_shim(index))) to JSON")
        }
    }

    private func luaL_typename_shim(_ index: Int32) -> UnsafePointer<CChar> {
        lua_typename(L, lua_type(L, index))
    }

    private func table(at index: Int32, depth: Int) throws(LuaConversionError) -> JSONValue {
        _ = lua_checkstack(L, 6)
        // A read-only view (see the prelude) keeps its data behind __index: read that instead.
        if lua_getmetatable(L, index) != 0 {
            lua_pushstring(L, "__index")
            lua_rawget(L, -2)
            if lua_type(L, -1) == LUA_TTABLE, lua_rawlen(L, index) == 0 {
                var hasOwn = false
                lua_pushnil(L)
                if lua_next(L, index) != 0 { hasOwn = true; mw_pop(L, 2) }
                if !hasOwn {
                    defer { mw_pop(L, 2) }
                    return try json(at: -1, depth: depth)
                }
            }
            mw_pop(L, 1)
            let isArrayMarked: Bool = {
                if pushArrayMetatable() == LUA_TNIL { mw_pop(L, 1); return false }
                defer { mw_pop(L, 1) }
                return lua_rawequal(L, -1, -2) != 0
            }()
            mw_pop(L, 1)
            if isArrayMarked { return try array(at: index, count: Int(lua_rawlen(L, index)), depth: depth) }
        }
        let length = Int(lua_rawlen(L, index))
        var count = 0
        var integerKeys = true
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            count += 1
            if integerKeys {
                if mw_isinteger(L, -2) != 0 {
                    var ok: Int32 = 0
                    let key = mw_tointeger(L, -2, &ok)
                    if key < 1 || key > length { integerKeys = false }
                } else {
                    integerKeys = false
                }
            }
            mw_pop(L, 1)
        }
        if count > 0 && integerKeys && count == length {
            return try array(at: index, count: length, depth: depth)
        }
        var object = JSONObject()
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            let key: String
            switch lua_type(L, -2) {
            case LUA_TSTRING: key = string(at: -2) ?? ""
            case LUA_TNUMBER:
                var ok: Int32 = 0
                key = mw_isinteger(L, -2) != 0 ? String(mw_tointeger(L, -2, &ok)) : String(mw_tonumber(L, -2, &ok))
            default:
                mw_pop(L, 2)
                throw LuaConversionError(message: "table keys must be strings or numbers")
            }
            do {
                object[key] = try json(at: -1, depth: depth + 1)
            } catch {
                mw_pop(L, 2)
                throw error
            }
            mw_pop(L, 1)
        }
        return .object(object)
    }

    private func array(at index: Int32, count: Int, depth: Int) throws(LuaConversionError) -> JSONValue {
        var array: [JSONValue] = []
        array.reserveCapacity(count)
        for i in 1...max(1, count) where count > 0 {
            lua_rawgeti(L, index, lua_Integer(i))
            do {
                array.append(try json(at: -1, depth: depth + 1))
            } catch {
                mw_pop(L, 1)
                throw error
            }
            mw_pop(L, 1)
        }
        return .array(array)
    }
}

/// A Lua value that has no JSON form.
public struct LuaConversionError: Error, Sendable {
    public let message: String
}
