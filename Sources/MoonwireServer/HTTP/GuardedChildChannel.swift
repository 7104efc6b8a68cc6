import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Wraps the server's child channel (HTTP/1 with WebSocket upgrades) to put an `HTTPConnectionGuard` right
/// after the HTTP decoder of every connection, refusing the connection at once when the `ConnectionGate`
/// says the hub holds too many.
struct GuardedChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let settings: HTTPConnectionGuard.Settings
    let gate: ConnectionGate

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let settings = settings
        let refusal = gate.refusal()
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(HTTPConnectionGuard(settings: settings, refusal: refusal), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
