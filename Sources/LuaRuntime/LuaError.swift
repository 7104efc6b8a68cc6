/// Why a Lua call or load failed.
public enum LuaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source does not compile; the message names the chunk and line (`plugins/x.lua:3: ...`).
    case syntax(String)
    /// A runtime error, with the message and the Lua traceback.
    case runtime(message: String, traceback: String)
    /// The state hit its memory limit.
    case memoryLimit
    /// The call ran more instructions than its budget.
    case instructionBudget
    /// The call ran past its time limit.
    case timeout

    public var description: String {
        switch self {
        case .syntax(let message): "syntax error: \(message)"
        case .runtime(let message, _): message
        case .memoryLimit: "memory limit exceeded"
        case .instructionBudget: "CPU budget exceeded"
        case .timeout: "time limit exceeded"
        }
    }

    /// True when a limit (memory, CPU, time) stopped the call, rather than the script's own error.
    public var isLimit: Bool {
        switch self {
        case .memoryLimit, .instructionBudget, .timeout: true
        case .syntax, .runtime: false
        }
    }

    /// The message with the traceback, for logs.
    public var detailed: String {
        if case .runtime(let message, let traceback) = self, !traceback.isEmpty {
            return message + "\n" + traceback
        }
        return description
    }
}
