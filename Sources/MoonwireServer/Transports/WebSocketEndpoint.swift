import Hummingbird
import HummingbirdWebSocket
import Logging
import MoonwireCore
import NIOCore
import NIOWebSocket
import Synchronization

/// `GET /ws`: the seed's WebSocket protocol. The first frame authenticates; then event frames flow both ways.
struct WebSocketEndpoint: Sendable {
    let hub: Hub
    let configuration: ServerConfiguration
    let cors: CORSPolicy

    /// Frames above this size end the connection (close 1009); frames between `maxFrameBytes` and this get
    /// an error event and the connection stays.
    var hardFrameLimit: Int { max(configuration.hub.maxFrameBytes * 4, 1 << 20) }

    /// Registers the upgrade on the WebSocket router, and on the HTTP router the answer for requests that
    /// reach `/ws` without upgrading: 403 for a foreign origin (the CORS middleware), 503 while shutting
    /// down, else 426. An upgrade the hub refuses (foreign origin, shutdown) is accepted and closed at once
    /// with a reason (1008 or 1001): the WebSocket library can only answer a declined upgrade with an empty
    /// 400, which tells the client nothing.
    func register(webSocketRouter: Router<MoonwireRequestContext>, httpRouter: Router<MoonwireRequestContext>) {
        webSocketRouter.ws("/ws") { inbound, outbound, context in
            let request = context.request
            var refusal: (HubError, DisconnectReason)?
            if let error = cors.refusal(request.headers[values: .origin], host: request.head.authority) {
                refusal = (error, DisconnectReason(code: "origin_not_allowed", message: error.message, closeCode: 1008))
            } else if hub.isShuttingDown {
                refusal = (HubError(.shuttingDown, "server shutting down"), .shutdown)
            }
            await handle(inbound: inbound, outbound: outbound, context: context, refusal: refusal)
        }
        httpRouter.get("/ws") { _, _ -> Response in
            if hub.isShuttingDown {
                return HTTPResponses.error(HubError(.shuttingDown, "server shutting down"))
            }
            var response = HTTPResponses.error(HubError(.upgradeRequired, "/ws is a WebSocket endpoint: send an Upgrade: websocket request"))
            response.status = .upgradeRequired
            response.headers[.upgrade] = "websocket"
            return response
        }
    }

    /// Runs one connection. A `refusal` is answered once the client's first frame (or the auth timeout)
    /// arrives, so the client is listening when the reason comes.
    private func handle(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
        context: WebSocketRouterContext<MoonwireRequestContext>, refusal: (HubError, DisconnectReason)?
    ) async {
        let request = context.request
        let remoteAddress = context.requestContext.remoteAddress
        var messages = inbound.messages(maxSize: hardFrameLimit).makeAsyncIterator()

        // The auth frame, within the auth timeout: whichever of the frame and the timer comes first wins.
        let firstFrameArrived = Atomic<Bool>(false)
        let timer = Task {
            try await hub.clock.sleep(for: configuration.authTimeout)
            if firstFrameArrived.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
                if let (error, reason) = refusal {
                    await refuse(outbound, error, reason)
                } else {
                    await refuse(outbound, HubError(.authRequired, "no auth frame within \(configuration.authTimeout.seconds) s"), .authTimeout)
                }
            }
        }
        defer { timer.cancel() }
        let firstMessage: WebSocketMessage?
        do {
            firstMessage = try await messages.next()
        } catch {
            // A broken first frame (not UTF-8, unmasked, too large): close with the reason.
            if firstFrameArrived.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
                await outbound.close(DisconnectReason(webSocketError: error))
            }
            return
        }
        guard firstFrameArrived.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged,
            let firstMessage
        else { return }
        timer.cancel()
        if let (error, reason) = refusal {
            await refuse(outbound, error, reason)
            return
        }

        let frame: AuthFrame
        switch AuthFrame.parse(Array(buffer(of: firstMessage).readableBytesView), parser: JSONParser()) {
        case .success(let parsed): frame = parsed
        case .failure(let error):
            await refuse(outbound, error, .authFailed(error.message))
            return
        }
        let connectRequest = ConnectRequest(
            transport: .webSocket, remoteAddress: remoteAddress, headers: request.headerDictionary, query: request.queryDictionary,
            claimedUserID: frame.userID, metadata: frame.metadata, token: frame.token ?? request.bearerToken)
        let identity: Identity
        switch await hub.authenticate(connectRequest) {
        case .success(let value): identity = value
        case .failure(let error):
            await refuse(outbound, error, .authFailed(error.message))
            return
        }
        let connection: Connection
        do throws(HubError) {
            connection = try hub.connect(identity: identity, transport: .webSocket, remoteAddress: remoteAddress)
        } catch {
            await refuse(outbound, error, error.code == .shuttingDown ? .shutdown : .connectionLimit)
            return
        }

        let channel = context.requestContext.channel
        connection.attach(to: channel)
        connection.attachDirectSink(WebSocketDirectSink(channel: channel))
        // The iterator moves to the reader task; nothing else touches it from here on.
        let reader = MessageReader(iterator: messages)
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                var transport = WebSocketTransport(outbound: outbound, channel: channel)
                await hub.serve(connection, over: &transport)
                return true
            }
            group.addTask {
                connection.send(hub.welcome(connection))
                let rooms = frame.rooms ?? hub.configuration.autoJoinRoom.map { [$0] } ?? []
                for room in rooms {
                    do throws(HubError) {
                        let replay = frame.since?.position(for: room).map { Replay.resume(after: $0) }
                        try await hub.join(connection, room: room, replay: replay)
                    } catch {
                        hub.reject(error, to: connection, room: room)
                    }
                }
                var ending = DisconnectReason.clientClosed
                do {
                    while let message = try await reader.iterator.next() {
                        await hub.receive(Array(buffer(of: message).readableBytesView), from: connection)
                    }
                } catch {
                    // The WebSocket layer ends the stream with an error when the client breaks the protocol,
                    // sends a text frame that is not UTF-8 or a message over the hard limit.
                    ending = DisconnectReason(webSocketError: error)
                }
                connection.close(ending)
                return false
            }
            // When either side ends, the other follows: the reader closes the connection, and the pump, once
            // it has sent the close frame, cancels the reader.
            while let pumpEnded = await group.next() {
                if pumpEnded { group.cancelAll() }
            }
        }
    }

    private func buffer(of message: WebSocketMessage) -> ByteBuffer {
        switch message {
        case .text(let string): ByteBuffer(string: string)
        case .binary(let buffer): buffer
        }
    }

    /// Sends an error frame in the seed's shape (with a top-level `error`) and closes.
    private func refuse(_ outbound: WebSocketOutboundWriter, _ error: HubError, _ reason: DisconnectReason) async {
        var object = Event.error(error).wireObject
        object["error"] = .string(error.message)
        try? await outbound.write(.text(JSONWriter.string(.object(object))))
        await outbound.close(reason)
    }
}

/// Hands the inbound message iterator to the one task that reads it.
private final class MessageReader: @unchecked Sendable {
    var iterator: WebSocketInboundMessageStream.AsyncIterator
    init(iterator: WebSocketInboundMessageStream.AsyncIterator) { self.iterator = iterator }
}
