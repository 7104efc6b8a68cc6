/// What one plugin's Lua state may use.
public struct LuaLimits: Sendable, Equatable {
    /// Most bytes the state may hold (allocations past it fail with a memory error).
    public var memoryBytes: Int
    /// Most VM instructions one call may run (0: no budget).
    public var instructionsPerCall: Int64
    /// Wall-clock limit of one call, checked as instructions run (nil: none).
    public var callTimeout: Duration?
    /// Instructions between checks of the budget and deadline.
    public var checkInterval: Int32

    public init(memoryBytes: Int = 32 << 20, instructionsPerCall: Int64 = 10_000_000, callTimeout: Duration? = .milliseconds(250),
                checkInterval: Int32 = 1000) {
        self.memoryBytes = memoryBytes
        self.instructionsPerCall = instructionsPerCall
        self.callTimeout = callTimeout
        self.checkInterval = checkInterval
    }
}
