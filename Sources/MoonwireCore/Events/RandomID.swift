/// Random identifiers for connections and ephemeral events.
public enum RandomID {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// A random version-4 UUID in its lowercase text form.
    public static func uuid() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A short random token of `length` hex characters.
    public static func token(length: Int = 12) -> String {
        var generator = SystemRandomNumberGenerator()
        let chars = (0..<length).map { _ in hex[Int.random(in: 0..<16, using: &generator)] }
        return String(decoding: chars, as: UTF8.self)
    }
}
