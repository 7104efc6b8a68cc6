import LuaRuntime

/// What a plugin call waits for: work the host does while the call is suspended (an HTTP request, a
/// Redis round trip). What it returns is what the waiting `hub` function returns to the script, or an
/// error that the `hub` function raises there.
struct PluginWait: Sendable {
    enum Result: Sendable {
        case values([LuaValue])
        case failure(String)
    }

    /// Does the work; `deadline` is the call's (monotonic ns; 0: none), which the work must not outlast.
    let run: @Sendable (_ deadline: UInt64) async -> Result
}
