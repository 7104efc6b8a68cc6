import Synchronization

/// Random identifiers for connections and ephemeral events.
public enum RandomID {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Random bytes from the system's generator, fetched 4 KiB at a time: one `getrandom` call per 256
    /// UUIDs instead of one per byte.
    private static let pool = Mutex<(bytes: [UInt8], used: Int)>(([UInt8](repeating: 0, count: 4096), 4096))

    private static func randomBytes(_ count: Int) -> [UInt8] {
        pool.withLock { pool in
            if pool.used + count > pool.bytes.count {
                var generator = SystemRandomNumberGenerator()
                pool.bytes.withUnsafeMutableBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        let word = generator.next()
                        withUnsafeBytes(of: word) { source in
                            let length = min(source.count, buffer.count - offset)
                            buffer.baseAddress!.advanced(by: offset).copyMemory(from: source.baseAddress!, byteCount: length)
                            offset += length
                        }
                    }
                }
                pool.used = 0
            }
            defer { pool.used += count }
            return Array(pool.bytes[pool.used..<pool.used + count])
        }
    }

    /// A random version-4 UUID in its lowercase text form.
    public static func uuid() -> String {
        var bytes = randomBytes(16)
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return String(unsafeUninitializedCapacity: 36) { out in
            var position = 0
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    out[position] = UInt8(ascii: "-")
                    position += 1
                }
                out[position] = hex[Int(byte >> 4)]
                out[position + 1] = hex[Int(byte & 0x0F)]
                position += 2
            }
            return position
        }
    }

    /// A short random token of `length` hex characters.
    public static func token(length: Int = 12) -> String {
        let bytes = randomBytes((length + 1) / 2)
        var chars: [UInt8] = []
        chars.reserveCapacity(length)
        for byte in bytes {
            chars.append(hex[Int(byte >> 4)])
            if chars.count < length { chars.append(hex[Int(byte & 0x0F)]) }
        }
        return String(decoding: chars, as: UTF8.self)
    }
}
