import AsyncHTTPClient
public import MoonwireCore
import NIOCore
import Synchronization

/// One Server-Sent Events message.
public struct SSEMessage: Sendable, Equatable {
    /// The `id:` field, if the message had one.
    public var id: String?
    /// The `event:` field (`message` when absent).
    public var event: String
    public var data: String
    /// `data` parsed as JSON, if it is JSON.
    public var json: JSONValue? { try? JSONParser().parse(data) }
}

/// A live SSE stream: messages arrive on `messages`; comments and `retry:` lines are counted, not delivered.
public final class SSEStream: Sendable {
    /// HTTP status of the response.
    public let status: Int
    /// Response headers.
    public let headers: [(String, String)]
    /// Messages as they arrive; finishes when the stream ends.
    public let messages: AsyncStream<SSEMessage>
    private let task: Mutex<Task<Void, Never>?>
    private let counters = Mutex<(comments: Int, retry: Int?, lastID: String?)>((0, nil, nil))

    private init(status: Int, headers: [(String, String)], messages: AsyncStream<SSEMessage>) {
        self.status = status
        self.headers = headers
        self.messages = messages
        self.task = Mutex(nil)
    }

    static func open(_ request: HTTPClientRequest, client: HTTPClient) async throws -> SSEStream {
        let response = try await client.execute(request, timeout: .seconds(30))
        let (stream, continuation) = AsyncStream<SSEMessage>.makeStream(bufferingPolicy: .unbounded)
        let sse = SSEStream(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, messages: stream)
        let task = Task {
            var parser = SSEParser()
            do {
                for try await buffer in response.body {
                    for line in parser.feed(buffer) {
                        switch parser.handle(line) {
                        case .message(let message):
                            if let id = message.id { sse.counters.withLock { $0.lastID = id } }
                            continuation.yield(message)
                        case .comment:
                            sse.counters.withLock { $0.comments += 1 }
                        case .retry(let value):
                            sse.counters.withLock { $0.retry = value }
                        case .none:
                            break
                        }
                    }
                }
            } catch {}
            continuation.finish()
        }
        sse.task.withLock { $0 = task }
        continuation.onTermination = { _ in task.cancel() }
        return sse
    }

    /// Comment lines (`: keep-alive`) seen so far.
    public var commentCount: Int { counters.withLock { $0.comments } }
    /// The last `retry:` value seen.
    public var retry: Int? { counters.withLock { $0.retry } }
    /// The `id:` of the last message that had one (what a browser would send as `Last-Event-ID`).
    public var lastEventID: String? { counters.withLock { $0.lastID } }

    /// Closes the stream.
    public func close() {
        task.withLock { $0?.cancel() }
    }
}

/// Splits an SSE byte stream into lines and lines into messages (per the HTML standard's rules).
struct SSEParser {
    private var pending: [UInt8] = []
    private var id: String?
    private var event = ""
    private var data: [String] = []
    private var hasData = false

    enum Output {
        case message(SSEMessage)
        case comment
        case retry(Int)
        case none
    }

    mutating func feed(_ buffer: ByteBuffer) -> [String] {
        pending.append(contentsOf: buffer.readableBytesView)
        var lines: [String] = []
        var start = 0
        var index = 0
        while index < pending.count {
            let byte = pending[index]
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                lines.append(String(decoding: pending[start..<index], as: UTF8.self))
                if byte == UInt8(ascii: "\r"), index + 1 < pending.count, pending[index + 1] == UInt8(ascii: "\n") { index += 1 }
                start = index + 1
            }
            index += 1
        }
        pending.removeFirst(start)
        return lines
    }

    mutating func handle(_ line: String) -> Output {
        if line.isEmpty {
            defer { event = ""; data = []; hasData = false }
            guard hasData else { return .none }
            return .message(SSEMessage(id: id, event: event.isEmpty ? "message" : event, data: data.joined(separator: "\n")))
        }
        if line.hasPrefix(":") { return .comment }
        var field = line
        var value = ""
        if let colon = line.firstIndex(of: ":") {
            field = String(line[..<colon])
            value = String(line[line.index(after: colon)...])
            if value.hasPrefix(" ") { value.removeFirst() }
        }
        switch field {
        case "id": id = value
        case "event": event = value
        case "data": data.append(value); hasData = true
        case "retry": if let ms = Int(value) { return .retry(ms) }
        default: break
        }
        return .none
    }
}
