/// The JSON payload every benchmark event carries: `{"bm":"RUN:SEQ:MICROS","pad":"xxx…"}`, padded to
/// an exact size.
///
/// `RUN` identifies the run (so that events of an earlier run are never counted), `SEQ` numbers the event
/// within it and `MICROS` is the publisher's CLOCK_REALTIME at send time in microseconds. The three
/// travel in one string value so that a server (or a Lua plugin) that reorders JSON keys does not hide
/// them, and so that a receiver finds them with one byte search, without decoding JSON.
public struct BenchPayload: Sendable {
    public let runID: String
    public let size: Int
    /// `"bm":"RUN:`, the byte pattern receivers search for.
    public let marker: [UInt8]

    /// The smallest payload this format allows.
    public static let minimumSize = 64

    public init(runID: String, size: Int) {
        self.runID = runID
        self.size = max(size, Self.minimumSize)
        self.marker = Array("\"bm\":\"\(runID):".utf8)
    }

    /// The payload of event `seq` stamped at `micros`; exactly `size` bytes.
    public func make(seq: UInt64, micros: UInt64) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(size)
        bytes.append(UInt8(ascii: "{"))
        bytes += marker
        Self.appendDecimal(seq, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.appendDecimal(micros, to: &bytes)
        bytes += Array(#"","pad":""#.utf8)
        let padding = size - bytes.count - 2
        if padding > 0 { bytes += repeatElement(UInt8(ascii: "x"), count: padding) }
        bytes += Array(#""}"#.utf8)
        return bytes
    }

    static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }
}
