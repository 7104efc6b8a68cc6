/// How one test (`it`) of a spec file went.
public struct PluginSpecResult: Sendable {
    /// The spec file.
    public var spec: String
    /// The `describe` names and the `it` name, joined by ` › `.
    public var name: String
    /// Why it failed (with the spec's file and line), or `nil` when it passed.
    public var failure: String?
    public var seconds: Double

    public var passed: Bool { failure == nil }

    public init(spec: String, name: String, failure: String?, seconds: Double) {
        self.spec = spec
        self.name = name
        self.failure = failure
        self.seconds = seconds
    }
}
