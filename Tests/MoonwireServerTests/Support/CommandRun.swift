import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `moonwire` binary (`.build/debug/moonwire`, found from this file's path) run as a child
/// process, its stdout and stderr collected as they come.
///
/// Spawned with `posix_spawn` and close-on-exec socket pairs rather than Foundation's `Process`: tests run in
/// parallel, and a pipe inherited by another test's child would keep this one's output open after it
/// exited. The child gets no other descriptor of the test process either (a hub's listening socket would
/// keep its port taken after the hub stopped).
final class CommandRun: Sendable {
    /// `.build/debug/moonwire` under the package root.
    static let binary: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/moonwire").path

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which the Glibc module does not export.
    private static let closeFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later needed)")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    private struct State {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var openPipes = 2
        var status: Int32?
    }

    let pid: pid_t
    private let arguments: [String]
    private let state: Mutex<State>

    /// Runs `moonwire ARGUMENTS`.
    convenience init(_ arguments: [String]) throws {
        try self.init(executable: Self.binary, arguments)
    }

    /// Runs another program (chromedriver, say) the same way.
    init(executable: String, _ arguments: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ProbeError.unexpected("\(executable) is missing")
        }
        self.arguments = arguments
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        // Socket pairs as pipes: they can be made close-on-exec atomically.
        let kind = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, kind, 0, &out) == 0, socketpair(AF_UNIX, kind, 0, &err) == 0 else {
            throw ProbeError.unexpected("socketpair failed: \(errno)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        // Nothing else of this process (a hub's listening socket, say) may live on in the child.
        guard Self.closeFrom(&actions, 3) == 0 else { throw ProbeError.unexpected("posix_spawn_file_actions_addclosefrom_np failed") }
        // A clean signal state: the test process may block or ignore signals (its hubs trap SIGTERM), and
        // a child would inherit that (a redis-server with SIGTERM blocked never stops).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        close(out[1])
        close(err[1])
        guard spawned == 0 else {
            close(out[0])
            close(err[0])
            throw ProbeError.unexpected("posix_spawn \(executable) failed: \(spawned)")
        }
        pid = child
        state = Mutex(State())
        for (fd, isStdout) in [(out[0], true), (err[0], false)] {
            Thread.detachNewThread { [self] in self.drain(fd, isStdout: isStdout) }
        }
    }

    /// Reads a pipe until the child closes it.
    private func drain(_ fd: Int32, isStdout: Bool) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            state.withLock { state in
                if isStdout {
                    state.stdout.append(contentsOf: buffer[0..<count])
                } else {
                    state.stderr.append(contentsOf: buffer[0..<count])
                }
            }
        }
        close(fd)
        state.withLock { $0.openPipes -= 1 }
    }

    var stdout: String { state.withLock { String(decoding: $0.stdout, as: UTF8.self) } }
    var stderr: String { state.withLock { String(decoding: $0.stderr, as: UTF8.self) } }
    /// The non-empty lines printed on stdout so far.
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// The exit status once the child has exited (128 + the signal if a signal ended it), else `nil`.
    private func reap() -> Int32? {
        if let status = state.withLock({ $0.status }) { return status }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
        let status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        state.withLock { $0.status = status }
        return status
    }

    /// Waits until stderr contains `text`.
    func waitForStderr(_ text: String, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !stderr.contains(text) {
            if reap() != nil, state.withLock({ $0.openPipes == 0 }), !stderr.contains(text) {
                throw ProbeError.unexpected("moonwire exited without printing '\(text)'; stderr: \(stderr)")
            }
            if ContinuousClock.now >= deadline { throw ProbeError.timeout("'\(text)' on stderr; got: \(stderr)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the child to exit and its output to be read; kills it after `timeout`.
    func exitStatus(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = reap(), state.withLock({ $0.openPipes == 0 }) { return status }
            if ContinuousClock.now >= deadline {
                if reap() == nil {
                    kill(pid, SIGKILL)
                    _ = try? await exitStatus(timeout: .seconds(5))
                }
                throw ProbeError.timeout("moonwire \(arguments.joined(separator: " ")) to exit; stderr: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until stdout contains `text`.
    func waitForStdout(_ text: String, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !stdout.contains(text) {
            if reap() != nil, state.withLock({ $0.openPipes == 0 }), !stdout.contains(text) {
                throw ProbeError.unexpected("\(arguments.first ?? "the process") exited without printing '\(text)'; stdout: \(stdout.suffix(2000)) stderr: \(stderr.suffix(2000))")
            }
            if ContinuousClock.now >= deadline { throw ProbeError.timeout("'\(text)' on stdout; got: \(stdout.suffix(2000))") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Whether the child is still running.
    var isRunning: Bool { reap() == nil }

    /// Sends SIGKILL (the process gets no chance to clean up).
    func forceKill() { kill(pid, SIGKILL) }

    /// Sends SIGINT.
    func interrupt() { kill(pid, SIGINT) }

    /// Sends SIGTERM.
    func terminate() { kill(pid, SIGTERM) }

    /// Runs `moonwire ARGUMENTS` to the end: exit status, stdout, stderr.
    static func run(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (status: Int32, stdout: String, stderr: String) {
        let run = try CommandRun(arguments)
        let status = try await run.exitStatus(timeout: timeout)
        return (status, run.stdout, run.stderr)
    }
}
