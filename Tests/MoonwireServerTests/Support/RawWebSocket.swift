#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket client on a bare socket that can stop reading: for slow-consumer tests.
final class RawWebSocket {
    let fd: Int32

    /// Connects, upgrades and sends `authFrame`; `receiveBuffer` shrinks the socket's receive buffer.
    init(port: Int, authFrame: String, receiveBuffer: Int32 = 4096) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProbeError.unexpected("socket() failed") }
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ProbeError.unexpected("connect() failed") }
        try sendAll(Array(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                .utf8))
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            var byte: UInt8 = 0
            guard recv(fd, &byte, 1, 0) == 1 else { throw ProbeError.unexpected("upgrade failed") }
            head.append(byte)
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw ProbeError.unexpected("upgrade refused: \(String(decoding: head, as: UTF8.self))")
        }
        try sendAll(Self.maskedTextFrame(authFrame))
    }

    deinit { close(fd) }

    private func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard sent > 0 else { throw ProbeError.unexpected("send() failed") }
            offset += sent
        }
    }

    static func maskedTextFrame(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame.append(0x80 | 126)
            frame.append(UInt8(payload.count >> 8))
            frame.append(UInt8(payload.count & 0xFF))
        }
        let mask: [UInt8] = [1, 2, 3, 4]
        frame.append(contentsOf: mask)
        for (i, byte) in payload.enumerated() { frame.append(byte ^ mask[i % 4]) }
        return frame
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
