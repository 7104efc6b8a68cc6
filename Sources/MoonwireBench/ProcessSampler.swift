import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU time and resident memory of a process and all its descendants (nginx's master and workers, say),
/// read from /proc.
public struct ProcessUsage: Sendable {
    /// User + system CPU time, seconds.
    public var cpuSeconds: Double
    /// Resident set size, bytes.
    public var rssBytes: Int
    /// Processes counted.
    public var processes: Int
}

public enum ProcessSampler {
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Usage of `pid` and (unless `descendants` is false) its descendants, or nil when `pid` is gone.
    /// The load generator measures itself without descendants: a hub it started is measured apart.
    public static func usage(of pid: Int32, descendants: Bool = true) -> ProcessUsage? {
        guard let own = stat(pid) else { return nil }
        var pids = [pid]
        var total = ProcessUsage(cpuSeconds: own.cpu, rssBytes: rss(pid) ?? 0, processes: 1)
        guard descendants else { return total }
        // Descendants: walk /proc once, building parent links.
        var children: [Int32: [Int32]] = [:]
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") {
            for entry in entries {
                guard let child = Int32(entry), child != pid, let info = stat(child) else { continue }
                children[info.parent, default: []].append(child)
            }
        }
        var index = 0
        while index < pids.count {
            for child in children[pids[index]] ?? [] {
                pids.append(child)
                if let info = stat(child) {
                    total.cpuSeconds += info.cpu
                    total.rssBytes += rss(child) ?? 0
                    total.processes += 1
                }
            }
            index += 1
        }
        return total
    }

    /// Parent pid and CPU seconds from /proc/PID/stat.
    private static func stat(_ pid: Int32) -> (parent: Int32, cpu: Double)? {
        guard let text = read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state(0) ppid(1) ... utime(11) stime(12)
        guard fields.count > 12, let parent = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12]) else {
            return nil
        }
        return (parent, (user + system) / ticksPerSecond)
    }

    private static func rss(_ pid: Int32) -> Int? {
        guard let text = read("/proc/\(pid)/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * pageSize
    }

    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}

/// Samples a process tree's CPU and memory during one measured phase: CPU% over the phase (100 = one
/// core busy), resident memory at the start, its peak and at the end.
final class UsageMonitor: @unchecked Sendable {
    private let pid: Int32?
    private let descendants: Bool
    private let lock = NSLock()
    private var start: ProcessUsage?
    private var startTime = 0.0
    private var peakRSS = 0
    private var task: Task<Void, Never>?

    init(pid: Int32?, descendants: Bool = true) {
        self.pid = pid
        self.descendants = descendants
    }

    func begin() {
        guard let pid else { return }
        start = ProcessSampler.usage(of: pid, descendants: descendants)
        startTime = BenchClock.seconds(since: 0)
        peakRSS = start?.rssBytes ?? 0
        task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 250_000_000)
                guard let self, let usage = ProcessSampler.usage(of: pid, descendants: self.descendants) else { return }
                self.lock.withLock { self.peakRSS = max(self.peakRSS, usage.rssBytes) }
            }
        }
    }

    /// Stops sampling; nil without a pid (or when the process is gone).
    func end() -> HubUsage? {
        task?.cancel()
        guard let pid, let start, let now = ProcessSampler.usage(of: pid, descendants: descendants) else { return nil }
        let elapsed = BenchClock.seconds(since: 0) - startTime
        lock.lock()
        let peak = max(peakRSS, now.rssBytes)
        lock.unlock()
        return HubUsage(
            pid: Int(pid), processes: now.processes,
            cpuPercent: elapsed > 0 ? (now.cpuSeconds - start.cpuSeconds) / elapsed * 100 : 0,
            rssStartBytes: start.rssBytes, rssPeakBytes: peak, rssEndBytes: now.rssBytes)
    }
}
