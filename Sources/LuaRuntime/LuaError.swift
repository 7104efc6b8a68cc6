/// Why a Lua call or load failed.
public enum LuaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source does not compile; the message names the chunk and line (`plugins/x.lua:3: ...`).
    case syntax(String)
    /// A runtime error, with the message and the Lua traceback.
    case runtime(message: String, traceback: String)
    /// A limit stopped the call. `location` is the file and line of the Lua code that was running
    /// (`plugins/x.lua:12`, empty when unknown).
    case limit(LuaLimit, location: String, traceback: String)

    public var description: String {
        switch self {
        case .syntax(let message): "syntax error: \(message)"
        case .runtime(let message, _): message
        case .limit(let limit, let location, _): location.isEmpty ? limit.description : "\(location): \(limit.description)"
        }
    }

    /// The limit that stopped the call, if one did (rather than the script's own error).
    public var limit: LuaLimit? {
        if case .limit(let limit, _, _) = self { return limit }
        return nil
    }

    /// True when a limit (memory, CPU, time) stopped the call.
    public var isLimit: Bool { limit != nil }

    /// Where the failing code was (`file:line`), when known.
    public var location: String? {
        switch self {
        case .limit(_, let location, _): location.isEmpty ? nil : location
        case .runtime(let message, _), .syntax(let message): Self.location(in: message)
        }
    }

    /// The message with the traceback, for logs.
    public var detailed: String {
        switch self {
        case .runtime(let message, let traceback) where !traceback.isEmpty: message + "\n" + traceback
        case .limit(_, _, let traceback) where !traceback.isEmpty: description + "\n" + traceback
        default: description
        }
    }

    /// `file:line` at the start of a Lua error message (`plugins/x.lua:12: attempt to ...`).
    static func location(in message: String) -> String? {
        let parts = message.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[1].allSatisfy(\.isNumber), parts[2].hasPrefix(" ") else {
            return nil
        }
        return "\(parts[0]):\(parts[1])"
    }
}

/// The limits that can stop a Lua call.
public enum LuaLimit: String, Sendable, Equatable, CustomStringConvertible {
    /// The state's memory cap.
    case memory
    /// The instruction budget of one call.
    case cpu
    /// The wall-clock deadline of one call.
    case time

    public var description: String {
        switch self {
        case .memory: "memory limit exceeded"
        case .cpu: "CPU budget exceeded"
        case .time: "time limit exceeded"
        }
    }
}
