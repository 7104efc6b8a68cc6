#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Clocks the load generator reads: wall-clock microseconds (stamped into payloads, so publisher and
/// subscribers on the same machine compare them) and a monotonic clock for durations.
public enum BenchClock {
    /// CLOCK_REALTIME in microseconds since 1970.
    @inline(__always)
    public static func realtimeMicros() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000 &+ UInt64(spec.tv_nsec / 1000)
    }

    /// CLOCK_MONOTONIC in nanoseconds.
    @inline(__always)
    public static func monotonicNanos() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// Seconds elapsed since a `monotonicNanos()` reading.
    public static func seconds(since start: UInt64) -> Double {
        Double(monotonicNanos() &- start) / 1e9
    }
}
