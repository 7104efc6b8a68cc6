import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A `moonwire serve` started by the load generator (`--hub-binary`): on a free loopback port, with its
/// own plugins directory (or none), its output in a log file; stopped with SIGTERM (SIGKILL after 10 s).
///
/// Spawned with `posix_spawn` and every descriptor above stderr closed in the child, so that it inherits
/// no socket of this process.
public final class HubProcess: @unchecked Sendable {
    public let pid: Int32
    public let port: Int
    public let logPath: String
    private var exited = false

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which the Glibc module does not export.
    private static let closeFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later needed)")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Starts `BINARY serve --host 127.0.0.1 --port P --plugins DIR …` and waits until `/health` answers.
    public static func start(binary: String, pluginsDirectory: String?, extraArguments: [String] = [],
                             loop: EventLoop, timeout: Double = 60) async throws -> HubProcess {
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw BenchError.invalid("hub binary \(binary) is missing") }
        let port = try freePort()
        var arguments = ["serve", "--host", "127.0.0.1", "--port", String(port), "--log-level", "warning",
                         "--plugins", pluginsDirectory ?? "",
                         "--set", "plugins.watch=false", "--set", "server.examples_dir=",
                         "--set", "server.max_connections=1000000"]
        arguments += extraArguments
        let logPath = NSTemporaryDirectory() + "moonwire-bench-hub-\(port).log"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        guard closeFrom(&actions, 3) == 0 else { throw BenchError.failed("posix_spawn_file_actions_addclosefrom_np failed") }
        // Start in the directory of no plugins: `moonwire serve` would otherwise read ./moonwire.toml.
        let directory = NSTemporaryDirectory()
        _ = addChdir(&actions, directory)
        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let absolute = binary.hasPrefix("/") ? binary : FileManager.default.currentDirectoryPath + "/" + binary
        let spawned = posix_spawn(&child, absolute, &actions, nil, argv, environ)
        guard spawned == 0 else { throw BenchError.failed("posix_spawn \(binary) failed: \(spawned)") }
        let hub = HubProcess(pid: child, port: port, logPath: logPath)
        let endpoint = HubEndpoint(target: .moonwire, host: "127.0.0.1", port: port)
        let started = BenchClock.monotonicNanos()
        while BenchClock.seconds(since: started) < timeout {
            if hub.hasExited() {
                throw BenchError.failed("the hub exited at startup: \(hub.logTail())")
            }
            if let reply = try? await HTTPConnection.fetch(endpoint, on: loop, .GET, "/health"), reply.status == 200 {
                return hub
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        await hub.stop()
        throw BenchError.timeout("the hub did not answer /health within \(Int(timeout)) s: \(hub.logTail())")
    }

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+).
    private static let addChdir: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32 = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addchdir_np") else {
            fatalError("posix_spawn_file_actions_addchdir_np is missing (glibc 2.29 or later needed)")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)
    }()

    private init(pid: Int32, port: Int, logPath: String) {
        self.pid = pid
        self.port = port
        self.logPath = logPath
    }

    private func hasExited() -> Bool {
        if exited { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        return exited
    }

    /// The last lines of the hub's log.
    public func logTail(_ characters: Int = 600) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "(no log)" }
        return String(String(decoding: data, as: UTF8.self).suffix(characters))
    }

    /// SIGTERM, then SIGKILL after 10 s; removes the log.
    public func stop() async {
        if !hasExited() {
            kill(pid, SIGTERM)
            let started = BenchClock.monotonicNanos()
            while !hasExited() {
                if BenchClock.seconds(since: started) > 10 {
                    kill(pid, SIGKILL)
                    var status: Int32 = 0
                    waitpid(pid, &status, 0)
                    exited = true
                    break
                }
                try? await Task.sleep(nanoseconds: 20_000_000)
            }
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// A loopback port nobody listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError.failed("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw BenchError.failed("bind failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Raises this process's open-file limit to its hard limit (a run holds thousands of sockets).
public enum FileLimit {
    @discardableResult
    public static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(limit.rlim_cur)
    }
}
