#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds benchmark payloads (`"bm":"RUN:SEQ:MICROS"`) in received bytes: a WebSocket message, an SSE
/// `data:` line, a long-poll answer holding many events. Anything without the run's marker (welcomes,
/// presence announcements, acks, events of other runs) is ignored.
public struct PayloadScanner: Sendable {
    let marker: [UInt8]

    public init(_ payload: BenchPayload) {
        self.marker = payload.marker
    }

    /// A scanner that only counts payloads that are the value of `"data"`: Moonwire's long-poll messages
    /// repeat the data as `content` (the seed's field), which must not count as a second delivery.
    public init(dataOf payload: BenchPayload) {
        self.marker = Array(#""data":{"#.utf8) + payload.marker
    }

    /// Calls `found(seq, micros)` for every payload in `bytes`; returns how many it found.
    @discardableResult
    @inline(__always)
    public func scan(_ bytes: UnsafeRawBufferPointer, _ found: (UInt64, UInt64) -> Void) -> Int {
        guard let base = bytes.baseAddress, bytes.count >= marker.count else { return 0 }
        var offset = 0
        var hits = 0
        let end = bytes.count
        marker.withUnsafeBytes { needle in
            while offset < end {
                guard let at = Bytes.memmem(base + offset, end - offset, needle.baseAddress!, needle.count) else { break }
                var position = base.distance(to: UnsafeRawPointer(at)) + needle.count
                var seq: UInt64 = 0
                var digits = 0
                while position < end {
                    let byte = bytes[position]
                    guard byte >= 48, byte <= 57 else { break }
                    seq = seq &* 10 &+ UInt64(byte - 48)
                    position += 1
                    digits += 1
                }
                guard digits > 0, position < end, bytes[position] == UInt8(ascii: ":") else {
                    offset = position
                    continue
                }
                position += 1
                var micros: UInt64 = 0
                digits = 0
                while position < end {
                    let byte = bytes[position]
                    guard byte >= 48, byte <= 57 else { break }
                    micros = micros &* 10 &+ UInt64(byte - 48)
                    position += 1
                    digits += 1
                }
                offset = position
                guard digits > 0 else { continue }
                found(seq, micros)
                hits += 1
            }
        }
        return hits
    }

    @discardableResult
    public func scan(_ bytes: [UInt8], _ found: (UInt64, UInt64) -> Void) -> Int {
        bytes.withUnsafeBytes { scan($0, found) }
    }
}

/// Byte search helpers for the clients' parsers.
enum Bytes {
    /// glibc's `memmem`, which the Glibc module does not export (it is a GNU extension).
    static let memmem: @convention(c) (UnsafeRawPointer?, Int, UnsafeRawPointer?, Int) -> UnsafeMutableRawPointer? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "memmem") else { fatalError("memmem is missing") }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeRawPointer?, Int, UnsafeRawPointer?, Int) -> UnsafeMutableRawPointer?).self)
    }()

    /// Offset of `needle` in `haystack` at or after `from`, or nil.
    static func find(_ needle: StaticString, in haystack: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        guard let base = haystack.baseAddress, from < haystack.count else { return nil }
        let size = needle.utf8CodeUnitCount
        guard let at = Bytes.memmem(base + from, haystack.count - from, needle.utf8Start, size) else { return nil }
        return base.distance(to: UnsafeRawPointer(at))
    }

    /// The JSON string value after `"key":"` (no escapes expected), or nil.
    static func stringValue(after key: StaticString, in haystack: UnsafeRawBufferPointer) -> String? {
        guard let start = find(key, in: haystack) else { return nil }
        let from = start + key.utf8CodeUnitCount
        var end = from
        while end < haystack.count, haystack[end] != UInt8(ascii: "\"") { end += 1 }
        guard end < haystack.count else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: haystack[from..<end]), as: UTF8.self)
    }
}
