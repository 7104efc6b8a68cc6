import LuaRuntime

/// The Lua limits the configuration asks for.
enum LuaLimitsBuilder {
    static func limits(_ configuration: ServerConfiguration) -> LuaLimits {
        LuaLimits(
            memoryBytes: configuration.pluginMemoryBytes,
            instructionsPerCall: Int64(configuration.pluginInstructionBudget),
            callTimeout: configuration.pluginCallTimeout > .zero ? configuration.pluginCallTimeout : nil)
    }
}
