import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` (Debian's package) on a free loopback port, without persistence, started and
/// stopped by the test. Stopping and starting again keeps the port, as a restarted Redis would.
final class RedisServer: Sendable {
    let port: Int
    private let process = Mutex<CommandRun?>(nil)

    var url: String { "redis://127.0.0.1:\(port)" }

    /// `redis-server` from the PATH (or /usr/bin).
    static let binary: String? = {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        return paths.map { "\($0)/redis-server" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    private init(port: Int) {
        self.port = port
    }

    /// Starts a server on a free port.
    static func start() async throws -> RedisServer {
        let server = RedisServer(port: try freeLoopbackPort())
        try await server.start()
        return server
    }

    /// Starts the server (again) on its port; waits until it accepts connections.
    func start() async throws {
        guard let binary = Self.binary else {
            throw ProbeError.unexpected("redis-server is missing: install it with `apt-get install redis-server` (scripts/install-deps.sh test)")
        }
        let run = try CommandRun(
            executable: binary,
            [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no",
                "--daemonize", "no", "--loglevel", "notice", "--dir", FileManager.default.temporaryDirectory.path,
            ])
        process.withLock { $0 = run }
        try await run.waitForStdout("Ready to accept connections", timeout: .seconds(10))
    }

    /// Stops the server (SIGTERM; nothing is saved), waiting for it to exit.
    func stop() async throws {
        guard let run = process.withLock({ process -> CommandRun? in
            defer { process = nil }
            return process
        }) else { return }
        run.terminate()
        do {
            _ = try await run.exitStatus(timeout: .seconds(10))
        } catch {
            throw ProbeError.unexpected("redis-server did not stop: \(error); its log: \(run.stdout.suffix(1500))")
        }
    }

    /// What the server printed (for failure messages).
    var log: String { process.withLock { $0?.stdout ?? "" } }
}

/// Runs `body` with a fresh Redis server; stops it afterwards whatever happens.
func withRedisServer(_ body: (RedisServer) async throws -> Void) async throws {
    let server = try await RedisServer.start()
    do {
        try await body(server)
    } catch {
        try? await server.stop()
        throw error
    }
    try await server.stop()
}

/// Ports handed out by `freeLoopbackPort` in this test run.
private let handedOutPorts = Mutex<Set<Int>>([])

/// A TCP port on 127.0.0.1 that was free a moment ago, for a server a test starts as a process. It lies
/// below Linux's ephemeral range (32768–60999): a port the kernel picks (`bind` to 0) is one a client
/// socket of another test may take as its own before the server binds it ("Address already in use").
/// Never the same port twice in one run.
func freeLoopbackPort() throws -> Int {
    for _ in 0..<500 {
        let candidate = Int.random(in: 20_000..<32_000)
        guard handedOutPorts.withLock({ $0.insert(candidate).inserted }) else { continue }
        if canBindLoopback(port: candidate) { return candidate }
    }
    throw ProbeError.unexpected("no free loopback port between 20000 and 32000")
}

/// Whether 127.0.0.1:`port` can be bound now.
private func canBindLoopback(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
