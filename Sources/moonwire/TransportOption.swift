import ArgumentParser
import MoonwireClient

/// `--transport ws|sse|poll` of `moonwire sub` and `moonwire pub`.
enum TransportOption: String, ExpressibleByArgument, CaseIterable {
    case ws
    case sse
    case poll

    var transport: MoonwireClient.Transport {
        switch self {
        case .ws: .webSocket
        case .sse: .sse
        case .poll: .longPoll
        }
    }
}
