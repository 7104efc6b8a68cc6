import Dispatch
import Foundation

/// Runs a handler on SIGINT or SIGTERM (instead of the default of dying at once).
final class Signals {
    private let sources: [any DispatchSourceSignal]

    private init(_ sources: [any DispatchSourceSignal]) { self.sources = sources }

    static func onInterrupt(_ handler: @escaping @Sendable () -> Void) -> Signals {
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
        return Signals(sources)
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
