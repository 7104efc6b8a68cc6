import NIOCore

/// Splits the bytes from Redis into `RESPValue`s (RESP2).
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    /// Replies deeper than this are refused (the connection is closed).
    static let maxDepth = 32

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        var reader = buffer
        guard let value = try Self.parse(&reader, depth: 0) else { return .needMoreData }
        buffer = reader
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// Reads one value from `buffer`, or `nil` (leaving `buffer` anywhere) when it is not complete yet.
    static func parse(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth < maxDepth else { throw RedisError.protocolError("reply nested too deeply") }
        guard let marker = buffer.readInteger(as: UInt8.self) else { return nil }
        guard let line = readLine(&buffer) else { return nil }
        switch marker {
        case UInt8(ascii: "+"):
            return .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            guard let value = Int64(String(decoding: line, as: UTF8.self)) else { throw RedisError.protocolError("bad integer") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(String(decoding: line, as: UTF8.self)) else { throw RedisError.protocolError("bad bulk length") }
            if length < 0 { return .bulkString(nil) }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readBytes(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(String(decoding: line, as: UTF8.self)) else { throw RedisError.protocolError("bad array length") }
            if count < 0 { return .array(nil) }
            var values: [RESPValue] = []
            values.reserveCapacity(min(count, 4096))
            for _ in 0..<count {
                guard let value = try parse(&buffer, depth: depth + 1) else { return nil }
                values.append(value)
            }
            return .array(values)
        default:
            throw RedisError.protocolError("unexpected reply type byte \(marker)")
        }
    }

    /// The bytes up to the next CRLF (consumed), or `nil` when there is none yet.
    private static func readLine(_ buffer: inout ByteBuffer) -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else { return nil }
        let next = view.index(after: cr)
        guard next < view.endIndex else { return nil }
        let length = cr - view.startIndex
        let line = buffer.readBytes(length: length) ?? []
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}
