import Foundation
import HummingbirdCore
import Logging
import MoonwireCore
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps the hub's open connections within what its open-file limit (`ulimit -n`) allows, so that it never
/// runs out of descriptors: the server then could not accept (and would retry without pause), nor open files.
///
/// Past `serveLimit` open connections, a new connection is answered `429 connection_limit` and closed
/// at once; at `acceptLimit` the server stops accepting until one closes (new ones wait in the listen
/// backlog). Connections already open are served throughout.
final class ConnectionGate: Sendable {
    /// The process's open-file limit when the gate was made.
    let fileLimit: Int
    /// Open connections past which new ones are refused.
    let serveLimit: Int
    /// Open connections at which accepting stops.
    let acceptLimit: Int
    private let open = Atomic<Int>(0)
    /// When a refusal was last logged (monotonic ns).
    private let lastWarning = Atomic<UInt64>(0)
    private let logger: Logger

    /// Derives the limits from the open-file limit, less the descriptors already open and a reserve for
    /// the event loops, files and the broker.
    init(logger: Logger) {
        var limit = rlimit()
        #if canImport(Glibc) || canImport(Musl)
        let found = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0
        #else
        let found = getrlimit(RLIMIT_NOFILE, &limit) == 0
        #endif
        fileLimit = found ? Int(clamping: limit.rlim_cur) : 1024
        let inUse = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 32
        let reserve = 32 + 3 * System.coreCount
        acceptLimit = max(8, fileLimit - inUse - reserve)
        serveLimit = max(4, acceptLimit - max(1, min(64, acceptLimit / 16)))
        self.logger = logger
    }

    /// Open connections now.
    var openConnections: Int { open.load(ordering: .relaxed) }

    /// The answer for a connection just opened past `serveLimit`, `nil` when it may be served.
    func refusal() -> HubError? {
        guard open.load(ordering: .relaxed) > serveLimit else { return nil }
        let now = MonotonicClock.nanoseconds()
        let last = lastWarning.load(ordering: .relaxed)
        if now - last > 10_000_000_000, lastWarning.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged {
            logger.warning(
                "open-connection limit reached: refusing new connections",
                metadata: ["open": "\(openConnections)", "limit": "\(serveLimit)", "open_file_limit": "\(fileLimit)"])
        }
        return HubError(
            .connectionLimit, "the hub holds as many connections as its open-file limit allows (\(serveLimit)); try again later")
    }

    /// Counts connections for the server's listening channel and stops it accepting at `acceptLimit`.
    var delegate: some AvailableConnectionsDelegate { Delegate(gate: self) }

    private struct Delegate: AvailableConnectionsDelegate {
        let gate: ConnectionGate
        func connectionOpened() { gate.open.add(1, ordering: .relaxed) }
        func connectionClosed() { gate.open.subtract(1, ordering: .relaxed) }
        func isAcceptingNewConnections() -> Bool { gate.open.load(ordering: .relaxed) < gate.acceptLimit }
    }
}
