import HummingbirdWebSocket
import MoonwireCore
import NIOWebSocket

extension WebSocketOutboundWriter {
    /// The most bytes of reason a close frame holds (125 bytes of payload, 2 of them the code).
    static let closeReasonLimit = 123

    /// Sends a close frame with `reason`'s code and message (cut to fit, see `closeReason(_:)`). Every close
    /// the hub sends goes through here.
    func close(_ reason: DisconnectReason) async {
        try? await close(WebSocketErrorCode(codeNumber: Int(reason.closeCode)), reason: Self.closeReason(reason.message))
    }

    /// `message` cut to `closeReasonLimit` UTF-8 bytes, at a character boundary.
    static func closeReason(_ message: String) -> String {
        guard message.utf8.count > closeReasonLimit else { return message }
        var reason = ""
        var bytes = 0
        for character in message {
            bytes += character.utf8.count
            if bytes > closeReasonLimit { break }
            reason.append(character)
        }
        return reason
    }
}
