#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket client on a bare socket that can stop reading (slow-consumer tests) and send frames no
/// library would (unmasked, not UTF-8).
final class RawWebSocket {
    let fd: Int32
    /// Bytes read by `readFrames` and not yet split into frames.
    private var unread: [UInt8] = []

    private init(fd: Int32) {
        self.fd = fd
    }

    /// Connects, upgrades and sends `authFrame` (unless `nil`); `receiveBuffer` shrinks the socket's
    /// receive buffer; `headers` go with the upgrade request. Waits for the upgrade without blocking a
    /// thread (a hub in the same process needs them).
    static func open(port: Int, authFrame: String?, receiveBuffer: Int32 = 4096, headers: [(String, String)] = []) async throws
        -> RawWebSocket
    {
        let fd = try connectToLoopback(port: port, receiveBuffer: receiveBuffer)
        let client = RawWebSocket(fd: fd)
        let extra = headers.map { "\($0.0): \($0.1)\r\n" }.joined()
        try client.sendAll(Array(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n"
                .utf8))
        var head: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            var byte: UInt8 = 0
            let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
            if count == 1 {
                head.append(byte)
                continue
            }
            guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw ProbeError.unexpected("upgrade failed: \(String(decoding: head, as: UTF8.self))")
            }
            guard ContinuousClock.now < deadline else { throw ProbeError.timeout("the WebSocket upgrade") }
            try await Task.sleep(for: .milliseconds(2))
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw ProbeError.unexpected("upgrade refused: \(String(decoding: head, as: UTF8.self))")
        }
        if let authFrame { try client.sendAll(Self.maskedTextFrame(authFrame)) }
        return client
    }

    deinit { close(fd) }

    func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard sent > 0 else { throw ProbeError.unexpected("send() failed") }
            offset += sent
        }
    }

    static func maskedTextFrame(_ text: String) -> [UInt8] {
        frame(opcode: 0x1, payload: Array(text.utf8))
    }

    /// One final frame (payload under 64 KiB), masked as clients must unless `masked` is false.
    static func frame(opcode: UInt8, payload: [UInt8], masked: Bool = true) -> [UInt8] {
        var frame: [UInt8] = [0x80 | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            frame.append(maskBit | UInt8(payload.count))
        } else {
            frame.append(maskBit | 126)
            frame.append(UInt8(payload.count >> 8))
            frame.append(UInt8(payload.count & 0xFF))
        }
        guard masked else { return frame + payload }
        let mask: [UInt8] = [1, 2, 3, 4]
        frame.append(contentsOf: mask)
        for (i, byte) in payload.enumerated() { frame.append(byte ^ mask[i % 4]) }
        return frame
    }

    /// Reads without blocking a thread, at most `chunk` bytes at a time and waiting `readPause` after each
    /// (a slow reader), until the server sends a close frame or ends the connection, or `timeout` passes.
    /// Returns the frames and whether the stream ended.
    func readFrames(
        untilClose timeout: Duration = .seconds(10), chunk: Int = 65536, readPause: Duration = .zero
    ) async throws -> (frames: [(opcode: UInt8, payload: [UInt8])], ended: Bool) {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: chunk)
        var frames: [(opcode: UInt8, payload: [UInt8])] = []
        var ended = false
        while ContinuousClock.now < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 {
                unread.append(contentsOf: buffer[0..<count])
                let parsed = Self.frames(in: unread)
                frames += parsed
                unread.removeFirst(parsed.reduce(0) { $0 + Self.encodedLength(payload: $1.payload.count) })
                if parsed.contains(where: { $0.opcode == 0x8 }) { break }
                if readPause > .zero { try await Task.sleep(for: readPause) }
                continue
            }
            if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                ended = true
                break
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return (frames, ended)
    }

    /// The length on the wire of a server (unmasked) frame with `payload` bytes.
    private static func encodedLength(payload: Int) -> Int {
        payload + (payload < 126 ? 2 : payload < 65536 ? 4 : 10)
    }

    /// The code and reason of a close frame's payload.
    static func closeFrame(_ payload: [UInt8]) -> (code: Int, reason: [UInt8])? {
        guard payload.count >= 2 else { return nil }
        return (Int(payload[0]) << 8 | Int(payload[1]), Array(payload.dropFirst(2)))
    }

    /// Reads everything until the server closes the socket (bounded by `limit` bytes).
    func readToEnd(limit: Int = 64 << 20) -> [UInt8] {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var all: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while all.count < limit {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            all.append(contentsOf: chunk[0..<n])
        }
        return all
    }

    /// Splits server (unmasked) frames: (opcode, payload).
    static func frames(in bytes: [UInt8]) -> [(opcode: UInt8, payload: [UInt8])] {
        var frames: [(UInt8, [UInt8])] = []
        var i = 0
        while i + 2 <= bytes.count {
            let opcode = bytes[i] & 0x0F
            var length = Int(bytes[i + 1] & 0x7F)
            var header = 2
            if length == 126 {
                guard i + 4 <= bytes.count else { break }
                length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
                header = 4
            } else if length == 127 {
                guard i + 10 <= bytes.count else { break }
                length = (0..<8).reduce(0) { $0 << 8 | Int(bytes[i + 2 + $1]) }
                header = 10
            }
            guard i + header + length <= bytes.count else { break }
            frames.append((opcode, Array(bytes[(i + header)..<(i + header + length)])))
            i += header + length
        }
        return frames
    }
}
