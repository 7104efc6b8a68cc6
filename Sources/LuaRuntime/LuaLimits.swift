/// What one plugin's Lua state may use.
public struct LuaLimits: Sendable, Equatable {
    /// Most bytes the state may hold (allocations past it fail with a memory error).
    public var memoryBytes: Int
    /// Most VM instructions one call may run (0: no budget). Work inside the metered library functions
    /// (patterns, table shifts) counts too.
    public var instructionsPerCall: Int64
    /// Wall-clock limit of one call, checked as instructions run (nil: none).
    public var callTimeout: Duration?
    /// Instructions between checks of the budget and deadline.
    public var checkInterval: Int32
    /// Most values (tables, strings, numbers, ...) one conversion of a Lua value to JSON may produce.
    public var conversionValues: Int
    /// Most bytes of text (strings and keys) one conversion of a Lua value to JSON may produce.
    public var conversionBytes: Int

    public init(
        memoryBytes: Int = 32 << 20, instructionsPerCall: Int64 = 10_000_000, callTimeout: Duration? = .milliseconds(250),
        checkInterval: Int32 = 1000, conversionValues: Int = 100_000, conversionBytes: Int = 8 << 20
    ) {
        self.memoryBytes = memoryBytes
        self.instructionsPerCall = instructionsPerCall
        self.callTimeout = callTimeout
        self.checkInterval = checkInterval
        self.conversionValues = conversionValues
        self.conversionBytes = conversionBytes
    }
}
