public import MoonwireCore

/// A value kept alive in a state's registry (a compiled function, a plugin table, a prepared event).
public struct LuaRef: Hashable, Sendable {
    let id: Int32
}

/// A value handed to Lua as an argument or a host function's result.
public enum LuaValue: Sendable {
    /// Lua `nil` (not JSON null).
    case nilValue
    /// JSON null: `hub.null`.
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    /// Converted to a fresh Lua value: objects and arrays become tables.
    case json(JSONValue)
    /// A fresh table with these fields (keys distinct), built without a JSON object in between.
    case table([(key: String, value: LuaValue)])
    /// A value already in the registry (pushed as is: no conversion).
    case ref(LuaRef)
    /// (Host functions only) the value already on top of the stack is the result.
    case stackTop
}

/// A value returned by Lua, converted.
public enum LuaResult: Sendable, Equatable {
    case none
    case bool(Bool)
    /// A number, string or table, as JSON.
    case value(JSONValue)
    case function
    /// A table that could not be read as JSON (a cycle, a function inside, too deep).
    case unreadable(String)

    /// True for `nil` / no value.
    public var isNone: Bool { if case .none = self { return true } else { return false } }
}
