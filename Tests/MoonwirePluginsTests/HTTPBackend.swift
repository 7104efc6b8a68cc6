import Foundation

/// `tests/support/http_backend.py` running on a free loopback port, for as long as this object lives.
final class HTTPBackend: @unchecked Sendable {
    let port: Int
    private let process: Process
    private let input: Pipe

    init() throws {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tests/support/http_backend.py").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // The first line is the port.
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line.append(byte) }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile)
        }
        self.port = port
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
    }

    /// Ends the `/hold?key=KEY` requests, now and later.
    func release(_ key: String) throws {
        let release = Process()
        release.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        release.arguments = ["python3", "-c", "import sys, urllib.request; urllib.request.urlopen(sys.argv[1]).read()", url("/release?key=\(key)")]
        try release.run()
        release.waitUntilExit()
    }

    /// `http://127.0.0.1:PORT` + `path`.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
}
