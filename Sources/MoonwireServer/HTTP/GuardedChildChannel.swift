import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Wraps the server's child channel (HTTP/1 with WebSocket upgrades) to put an `HTTPConnectionGuard` right
/// after the HTTP decoder of every connection, refusing the connection at once when the `ConnectionGate`
/// says the hub holds too many; then, when some transport is served natively, the `TransportRouter`, ahead
/// of Hummingbird's handlers.
struct GuardedChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let settings: HTTPConnectionGuard.Settings
    let gate: ConnectionGate
    let transports: TransportRouter.Endpoints?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let settings = settings
        let refusal = gate.refusal()
        let transports = transports
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let connectionGuard = HTTPConnectionGuard(settings: settings, refusal: refusal)
            try pipeline.addHandler(connectionGuard, position: .after(decoder))
            if let transports {
                try pipeline.addHandler(TransportRouter(endpoints: transports), position: .after(connectionGuard))
            }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
