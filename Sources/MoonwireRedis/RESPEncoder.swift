import NIOCore

/// Writes commands as RESP arrays of bulk strings.
enum RESPEncoder {
    static func write(_ arguments: [RedisArgument], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in arguments {
            switch argument {
            case .string(let text):
                buffer.writeStaticString("$")
                buffer.writeString(String(text.utf8.count))
                buffer.writeStaticString("\r\n")
                buffer.writeString(text)
            case .bytes(let bytes):
                buffer.writeStaticString("$")
                buffer.writeString(String(bytes.count))
                buffer.writeStaticString("\r\n")
                buffer.writeBytes(bytes)
            }
            buffer.writeStaticString("\r\n")
        }
    }
}

/// One argument of a command.
public enum RedisArgument: Sendable, ExpressibleByStringLiteral {
    case string(String)
    case bytes([UInt8])

    public init(stringLiteral value: String) { self = .string(value) }
}
