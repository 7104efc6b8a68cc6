/// The server under load: Moonwire or Nchan (an nginx module serving the same three transports).
public enum BenchTarget: String, Sendable, Codable, CaseIterable {
    case moonwire
    case nchan
}

/// The subscriber transport.
public enum BenchTransport: String, Sendable, Codable, CaseIterable {
    case ws
    case sse
    case poll

    public var displayName: String {
        switch self {
        case .ws: "WebSocket"
        case .sse: "SSE"
        case .poll: "long-poll"
        }
    }
}
