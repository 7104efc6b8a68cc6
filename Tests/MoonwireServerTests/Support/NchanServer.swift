import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// nginx with Nchan (Debian's `nginx-light` + `libnginx-mod-nchan`) started from `bench/nchan/nginx.conf`
/// on a free loopback port, as `make bench-vs-nchan` starts it; stopped by the test.
final class NchanServer: Sendable {
    let port: Int
    let prefix: String
    private let run: CommandRun

    var url: String { "http://127.0.0.1:\(port)" }
    var pid: Int32 { run.pid }

    /// nginx from the PATH (or /usr/sbin), when the Nchan module is installed too.
    static let binary: String? = {
        guard FileManager.default.fileExists(atPath: "/usr/lib/nginx/modules/ngx_nchan_module.so") else { return nil }
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin"]
        return paths.map { "\($0)/nginx" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    private init(port: Int, prefix: String, run: CommandRun) {
        self.port = port
        self.prefix = prefix
        self.run = run
    }

    /// Starts nginx and waits until it accepts connections.
    static func start() async throws -> NchanServer {
        guard let binary else {
            throw ProbeError.unexpected(
                "nginx with Nchan is missing: apt-get install nginx-light libnginx-mod-nchan (scripts/install-deps.sh test)")
        }
        let port = try freeLoopbackPort()
        let prefix = NSTemporaryDirectory() + "moonwire-nchan-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let template = try String(contentsOf: repository.appendingPathComponent("bench/nchan/nginx.conf"), encoding: .utf8)
        try template.replacingOccurrences(of: "NCHAN_PORT", with: String(port))
            .write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
        let run = try CommandRun(executable: binary, ["-p", prefix, "-c", prefix + "/nginx.conf", "-g", "pid \(prefix)/nginx.pid;"])
        let server = NchanServer(port: port, prefix: prefix, run: run)
        let deadline = ContinuousClock.now + .seconds(10)
        while !Self.accepts(port) {
            guard run.isRunning, ContinuousClock.now < deadline else {
                run.forceKill()
                throw ProbeError.unexpected("nginx did not start: \(run.stderr.suffix(1500))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return server
    }

    /// Stops nginx (SIGQUIT: graceful, as the script does) and removes its folder.
    func stop() async {
        kill(run.pid, SIGQUIT)
        if (try? await run.exitStatus(timeout: .seconds(10))) == nil { run.forceKill() }
        try? FileManager.default.removeItem(atPath: prefix)
    }

    private static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
