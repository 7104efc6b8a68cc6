/// How a plugin registered an event type (`types = { NAME = { stored = ..., from = ... } }`).
public struct PluginEventType: Sendable, Equatable {
    /// Stored in history (and resumable), or ephemeral.
    public var stored: Bool
    /// Whether clients may send it; when not (`from = "plugins"`), only plugins and the server API publish it.
    public var clientsMaySend: Bool

    public init(stored: Bool = true, clientsMaySend: Bool = true) {
        self.stored = stored
        self.clientsMaySend = clientsMaySend
    }

    /// `from`'s value in the plugin table.
    public var from: String { clientsMaySend ? "anyone" : "plugins" }

    /// A short description, e.g. `stored, from plugins`.
    public var summary: String { (stored ? "stored" : "ephemeral") + (clientsMaySend ? "" : ", from plugins only") }
}
