import Foundation
import MoonwireCore

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP connection on a bare loopback socket, for requests no HTTP client would send: half a request,
/// bytes the parser refuses, a foreign `Host`. Reads never block a thread: the socket is read without
/// waiting and polled.
final class RawHTTPConnection {
    let fd: Int32
    /// What was read and not yet taken by `readResponse`.
    private var buffer: [UInt8] = []
    private(set) var sawEnd = false

    /// Connects to `127.0.0.1:port`.
    init(port: Int) throws {
        fd = try connectToLoopback(port: port)
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw ProbeError.unexpected("send() failed: \(errno)") }
            offset += sent
        }
    }

    /// Half-closes: the server reads the end of the input, and may still answer.
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads what has arrived, without waiting; notes the end of the stream (or a reset).
    private func readAvailable() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !sawEnd {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
            } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                sawEnd = true
            } else {
                return
            }
        }
    }

    /// Polls until `done` holds for what was read (or the stream ended); throws after `timeout`.
    private func poll(timeout: Duration, _ what: String, until done: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            readAvailable()
            if done() || sawEnd { return }
            if ContinuousClock.now >= deadline { throw ProbeError.timeout("\(what) (read so far: \(String(decoding: buffer.prefix(300), as: UTF8.self)))") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The next complete response (`bodyless`: the answer to a `HEAD`); `nil` if the connection ended without one.
    func readResponse(timeout: Duration = .seconds(10), bodyless: Bool = false) async throws -> RawHTTPResponse? {
        try await poll(timeout: timeout, "an HTTP response") { RawHTTPResponse.parse(buffer, bodyless: bodyless) != nil }
        guard let (response, length) = RawHTTPResponse.parse(buffer, bodyless: bodyless) else { return nil }
        buffer.removeFirst(length)
        return response
    }

    /// A complete response that has already arrived, without waiting.
    func takeResponse() -> RawHTTPResponse? {
        readAvailable()
        guard let (response, length) = RawHTTPResponse.parse(buffer) else { return nil }
        buffer.removeFirst(length)
        return response
    }

    /// Waits for the server to end the connection; returns the bytes that came before (not taken yet).
    func readToEnd(timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        try await poll(timeout: timeout, "the connection to end") { false }
        defer { buffer.removeAll() }
        return buffer
    }

    /// Sends one request and reads its response (on a new connection).
    static func request(
        port: Int, _ path: String, method: String = "GET", host: String? = "127.0.0.1", headers: [(String, String)] = [],
        body: String = "", timeout: Duration = .seconds(10)
    ) async throws -> RawHTTPResponse {
        let connection = try RawHTTPConnection(port: port)
        try connection.send(requestText(method, path, host: host.map { "\($0):\(port)" }, headers: headers, body: body))
        guard let response = try await connection.readResponse(timeout: timeout, bodyless: method == "HEAD") else {
            throw ProbeError.unexpected("\(method) \(path): the connection ended without an answer")
        }
        return response
    }

    /// The text of a request; `host` nil sends none.
    static func requestText(_ method: String, _ path: String, host: String?, headers: [(String, String)] = [], body: String = "") -> String {
        var text = "\(method) \(path) HTTP/1.1\r\n"
        if let host { text += "Host: \(host)\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.utf8.count)\r\n" }
        return text + "\r\n" + body
    }
}

/// A response read by `RawHTTPConnection`.
struct RawHTTPResponse {
    let status: Int
    /// Header names lowercased (a repeated header: the last value).
    let headers: [String: String]
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { try? JSONParser().parse(body) }
    /// `error.code` of a JSON error answer.
    var errorCode: String? { json?["error"]?["code"]?.stringValue }

    /// A complete response at the start of `bytes` and its length, or `nil` if there is none yet (a
    /// response without `Content-Length` has an empty body: the hub sends one with every body).
    static func parse(_ bytes: [UInt8], bodyless: Bool = false) -> (RawHTTPResponse, Int)? {
        guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = bodyless ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        guard bytes.count >= end.upperBound + length else { return nil }
        let body = Array(bytes[end.upperBound..<(end.upperBound + length)])
        return (RawHTTPResponse(status: status, headers: headers, body: body), end.upperBound + length)
    }
}

/// A TCP socket connected to `127.0.0.1:port`; `receiveBuffer` sets its receive buffer first.
func connectToLoopback(port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ProbeError.unexpected("socket() failed: \(errno)") }
    if var size = receiveBuffer {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        let error = errno
        close(fd)
        throw ProbeError.unexpected("connect() failed: \(error)")
    }
    return fd
}
