/// A reply of the Redis serialization protocol, version 2.
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// A bulk string; `nil` for the null bulk string.
    case bulkString([UInt8]?)
    /// An array; `nil` for the null array.
    case array([RESPValue]?)

    /// The value as text: simple and bulk strings, and integers.
    public var string: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let bytes?): return String(decoding: bytes, as: UTF8.self)
        case .integer(let value): return String(value)
        default: return nil
        }
    }

    /// The bytes of a bulk or simple string.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes?): return bytes
        case .simpleString(let text): return Array(text.utf8)
        default: return nil
        }
    }

    /// The value as an integer: integers, and strings holding one.
    public var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulkString, .simpleString: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of a non-null array.
    public var array: [RESPValue]? {
        if case .array(let values?) = self { return values }
        return nil
    }

    /// True for the null bulk string and the null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): return true
        default: return false
        }
    }
}
