import CLua
import CLuaShims
import MoonwireCore

extension LuaState {
    /// The light userdata that stands for JSON `null` in Lua (`hub.null`).
    nonisolated(unsafe) static let nullSentinel = UnsafeMutableRawPointer(bitPattern: 0x6E75_6C6C)!

    /// Deepest nesting of tables converted to JSON.
    static let maxConversionDepth = 32

    // MARK: Swift to Lua

    /// Pushes a value onto the stack. While `resultLimit` is set (a host function's results), a value that
    /// would take the state past it is cut short and `resultOverflowed` is set: the caller then raises a
    /// memory error instead of returning it.
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
            lua_createtable(L, 0, Int32(clamping: fields.count))
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
        if resultLimit > 0 {
            pushedValues &+= 1
            if pushedValues & 63 == 0, Int(limits.pointee.used) > resultLimit { resultOverflowed = true }
            if resultOverflowed {
                lua_pushnil(L)
                return
            }
        }
        _ = lua_checkstack(L, 4)
        switch json {
        case .null: lua_pushlightuserdata(L, Self.nullSentinel)
        case .bool(let b): lua_pushboolean(L, b ? 1 : 0)
        case .int(let i): lua_pushinteger(L, lua_Integer(i))
        case .double(let d): lua_pushnumber(L, d)
        case .string(let s): pushString(s)
        case .array(let array):
            lua_createtable(L, Int32(clamping: array.count), 0)
            for (index, element) in array.enumerated() {
                push(element, depth: depth + 1)
                lua_rawseti(L, -2, lua_Integer(index + 1))
            }
            if array.isEmpty { markArray(at: -1) }
        case .object(let object):
            lua_createtable(L, 0, Int32(clamping: object.count))
            for member in object {
                pushString(member.key)
                push(member.value, depth: depth + 1)
                lua_rawset(L, -3)
            }
        }
    }

    /// Gives the table at `index` the array marker metatable (made, protected, by the sandbox).
    func markArray(at index: Int32) {
        let absolute = lua_absindex(L, index)
        _ = pushArrayMetatable()
        lua_setmetatable(L, absolute)
    }

    /// Pushes the array marker metatable from the registry; returns its type.
    private func pushArrayMetatable() -> Int32 {
        lua_getfield(L, mw_registryindex(), MW_ARRAY_METATABLE)
    }

    /// Whether the table at `index` has a metatable other than the array marker.
    func hasForeignMetatable(at index: Int32) -> Bool {
        guard lua_getmetatable(L, index) != 0 else { return false }
        _ = pushArrayMetatable()
        defer { mw_pop(L, 2) }
        return lua_rawequal(L, -1, -2) == 0
    }

    // MARK: Lua to Swift

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

    /// Converts the value at `index` to JSON. Tables with keys 1...n are arrays, others objects (number
    /// keys become strings); functions and other non-data values are an error. Tables are read raw
    /// (metamethods never run); the read-only views the host makes convert as what they show. The
    /// conversion is bounded: nesting, cycles, and the number and text size of the values it produces.
    func json(at index: Int32) throws(LuaConversionError) -> JSONValue {
        var conversion = Conversion(valuesLeft: conversionLimits.values, bytesLeft: conversionLimits.bytes)
        return try json(at: index, depth: 0, &conversion)
    }

    /// What one conversion may still produce, and the tables on the path to the current value.
    struct Conversion {
        var valuesLeft: Int
        var bytesLeft: Int
        var path: Set<UnsafeRawPointer> = []
    }

    private func json(at index: Int32, depth: Int, _ conversion: inout Conversion) throws(LuaConversionError) -> JSONValue {
        let index = lua_absindex(L, index)
        conversion.valuesLeft -= 1
        guard conversion.valuesLeft >= 0 else {
            throw LuaConversionError(message: "value too large to convert (more than \(conversionLimits.values) values)")
        }
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE: return .null
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            var isInt: Int32 = 0
            if mw_isinteger(L, index) != 0 { return .int(mw_tointeger(L, index, &isInt)) }
            let d = mw_tonumber(L, index, &isInt)
            guard d.isFinite else { throw LuaConversionError(message: "numbers must be finite (got \(d))") }
            return .double(d)
        case LUA_TSTRING:
            let text = string(at: index) ?? ""
            try charge(text, &conversion)
            return .string(text)
        case LUA_TLIGHTUSERDATA:
            if lua_touserdata(L, index) == Self.nullSentinel { return .null }
            throw LuaConversionError(message: "cannot convert a userdata to JSON")
        case LUA_TTABLE:
            guard depth < Self.maxConversionDepth else {
                throw LuaConversionError(message: "table nested more than \(Self.maxConversionDepth) levels")
            }
            guard let pointer = lua_topointer(L, index) else { return .null }
            guard conversion.path.insert(pointer).inserted else {
                throw LuaConversionError(message: "a table contains itself (cyclic tables have no JSON form)")
            }
            defer { conversion.path.remove(pointer) }
            return try table(at: index, depth: depth, &conversion)
        default:
            throw LuaConversionError(message: "cannot convert a \(String(cString: lua_typename(L, lua_type(L, index)))) to JSON")
        }
    }

    private func charge(_ text: String, _ conversion: inout Conversion) throws(LuaConversionError) {
        conversion.bytesLeft -= text.utf8.count
        guard conversion.bytesLeft >= 0 else {
            throw LuaConversionError(message: "value too large to convert (more than \(conversionLimits.bytes) bytes of text)")
        }
    }

    private func table(at index: Int32, depth: Int, _ conversion: inout Conversion) throws(LuaConversionError) -> JSONValue {
        _ = lua_checkstack(L, 6)
        if lua_getmetatable(L, index) != 0 {
            // A read-only view (the prelude's `freeze`) keeps its data behind __index: convert that.
            if isReadOnlyViewMetatable(at: -1), lua_rawlen(L, index) == 0, !tableHasEntries(at: index) {
                lua_pushstring(L, "__index")
                lua_rawget(L, -2)
                defer { mw_pop(L, 2) }
                if lua_type(L, -1) == LUA_TTABLE { return try json(at: -1, depth: depth + 1, &conversion) }
                return .object([:])
            }
            _ = pushArrayMetatable()
            let isArrayMarked = lua_rawequal(L, -1, -2) != 0
            mw_pop(L, 2)
            if isArrayMarked { return try array(at: index, count: Int(lua_rawlen(L, index)), depth: depth, &conversion) }
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
            return try array(at: index, count: length, depth: depth, &conversion)
        }
        var members: [(String, JSONValue)] = []
        members.reserveCapacity(min(count, conversion.valuesLeft + 1))
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
                try charge(key, &conversion)
                members.append((key, try json(at: -1, depth: depth + 1, &conversion)))
            } catch {
                mw_pop(L, 2)
                throw error
            }
            mw_pop(L, 1)
        }
        return .object(JSONObject(members))
    }

    private func array(at index: Int32, count: Int, depth: Int, _ conversion: inout Conversion) throws(LuaConversionError) -> JSONValue {
        var array: [JSONValue] = []
        array.reserveCapacity(min(count, conversion.valuesLeft + 1))
        for i in 1...max(1, count) where count > 0 {
            lua_rawgeti(L, index, lua_Integer(i))
            do {
                array.append(try json(at: -1, depth: depth + 1, &conversion))
            } catch {
                mw_pop(L, 1)
                throw error
            }
            mw_pop(L, 1)
        }
        return .array(array)
    }

    /// Whether the metatable at `index` is one of the prelude's read-only views' (`__metatable = "read-only"`).
    private func isReadOnlyViewMetatable(at index: Int32) -> Bool {
        let absolute = lua_absindex(L, index)
        lua_pushstring(L, "__metatable")
        defer { mw_pop(L, 1) }
        guard lua_rawget(L, absolute) == LUA_TSTRING else { return false }
        return string(at: -1) == Self.readOnlyMarker
    }

    private func tableHasEntries(at index: Int32) -> Bool {
        lua_pushnil(L)
        guard lua_next(L, index) != 0 else { return false }
        mw_pop(L, 2)
        return true
    }
}

/// A Lua value that has no JSON form.
public struct LuaConversionError: Error, Sendable {
    public let message: String
}
