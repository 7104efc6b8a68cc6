import HTTPTypes
import Logging
public import MoonwireCore
import NIOCore
import NIOWebSocket
import Synchronization
import WSClient

/// A raw WebSocket connection to a hub: frames received arrive on `frames`; `send` writes JSON or text.
public final class WebSocketSession: Sendable {
    /// Received text frames, parsed as JSON where possible (a non-JSON frame arrives as `.string`).
    public let frames: AsyncStream<JSONValue>
    private let continuation: AsyncStream<JSONValue>.Continuation
    private let outbound = Mutex<WebSocketOutboundWriter?>(nil)
    private let closeState = Mutex<(code: Int, reason: String?)?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    private init() {
        (frames, continuation) = AsyncStream<JSONValue>.makeStream(bufferingPolicy: .unbounded)
    }

    /// Connects to `url` (`ws://host:port/ws`); sends `authFrame` first when given.
    public static func connect(
        url: String, authFrame: JSONValue? = nil, headers: [(String, String)] = [], logger: Logger = Logger(label: "moonwire.client")
    ) async throws -> WebSocketSession {
        let session = WebSocketSession()
        var fields = HTTPFields()
        for (name, value) in headers {
            if let fieldName = HTTPField.Name(name) { fields[fieldName] = value }
        }
        let configuration = WebSocketClientConfiguration(maxFrameSize: 16 << 20, additionalHeaders: fields)
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            let started = Atomic<Bool>(false)
            let task = Task {
                do {
                    let closeFrame = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) {
                        inbound, outbound, _ in
                        session.outbound.withLock { $0 = outbound }
                        if let authFrame {
                            try await outbound.write(.text(JSONWriter.string(authFrame)))
                        }
                        if started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged { ready.resume() }
                        for try await message in inbound.messages(maxSize: 16 << 20) {
                            let text: String
                            switch message {
                            case .text(let string): text = string
                            case .binary(let buffer): text = String(buffer: buffer)
                            }
                            session.continuation.yield((try? JSONParser().parse(text)) ?? .string(text))
                        }
                    }
                    if let closeFrame {
                        session.closeState.withLock { $0 = (closeFrame.closeCode.number, closeFrame.reason) }
                    }
                    if started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
                        ready.resume(throwing: WebSocketSessionError.closedBeforeOpen)
                    }
                } catch {
                    if started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
                        ready.resume(throwing: error)
                    }
                }
                session.continuation.finish()
            }
            session.task.withLock { $0 = task }
        }
        return session
    }

    /// Sends a JSON frame.
    public func send(_ value: JSONValue) async throws {
        try await sendText(JSONWriter.string(value))
    }

    /// Sends a text frame as is.
    public func sendText(_ text: String) async throws {
        guard let outbound = outbound.withLock({ $0 }) else { throw WebSocketSessionError.notConnected }
        try await outbound.write(.text(text))
    }

    /// Closes the connection (normal closure) and waits for it to end.
    public func close() async {
        if let outbound = outbound.withLock({ $0 }) {
            try? await outbound.close(.normalClosure, reason: nil)
        }
        await task.withLock { $0 }?.value
    }

    /// Drops the TCP connection without a close handshake.
    public func abort() {
        task.withLock { $0 }?.cancel()
    }

    /// Waits until the connection has ended.
    public func waitUntilClosed() async {
        await task.withLock { $0 }?.value
    }

    /// The server's close code and reason, once closed.
    public var closeCode: (code: Int, reason: String?)? {
        closeState.withLock { $0 }
    }
}

public enum WebSocketSessionError: Error {
    case notConnected
    case closedBeforeOpen
}

extension WebSocketErrorCode {
    /// The numeric close code.
    var number: Int {
        var buffer = ByteBuffer()
        buffer.write(webSocketErrorCode: self)
        return Int(buffer.readInteger(as: UInt16.self) ?? 0)
    }
}
