import MoonwireCore

extension DisconnectReason {
    /// Why a WebSocket's inbound stream ended with `error`: a message over the hard frame limit, a text
    /// frame that is not UTF-8, an unmasked frame (`WebSocketMaskCheck`), or another protocol violation.
    init(webSocketError error: any Error) {
        if error is WebSocketMaskCheck.UnmaskedFrame {
            self = .unmaskedFrame
            return
        }
        // The WebSocket library's own errors are internal types: known by name.
        let text = "\(error)"
        if text.contains("messageTooLarge") {
            self = .frameTooLarge
        } else if text.contains("dataInconsistentWithMessage") {
            self = .invalidText
        } else {
            self = .protocolError
        }
    }
}
