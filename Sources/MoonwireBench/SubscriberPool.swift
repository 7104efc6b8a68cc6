import Foundation
import NIOCore

/// One open subscriber connection, whatever its transport.
enum SubscriberHandle {
    case webSocket(WebSocketSubscriber)
    case sse(SSESubscriber)
    case poll(LongPollSubscriber)

    func close() {
        switch self {
        case .webSocket(let subscriber): subscriber.close()
        case .sse(let subscriber): subscriber.close()
        case .poll(let subscriber): subscriber.close()
        }
    }
}

/// Subscribers of one or many rooms, opened with bounded concurrency, kept for one or several phases.
final class SubscriberPool: @unchecked Sendable {
    let load: LoadContext
    let transport: BenchTransport
    let roomNames: [String]
    /// Every subscriber's state, ready or not (index = subscriber number).
    let states: [SubscriberState]
    private(set) var handles: [SubscriberHandle?]
    /// Ready subscribers per room.
    private(set) var readyPerRoom: [Int]
    let connectSeconds: Double

    var readyCount: Int { readyPerRoom.reduce(0, +) }

    private init(load: LoadContext, transport: BenchTransport, roomNames: [String], states: [SubscriberState],
                 handles: [SubscriberHandle?], readyPerRoom: [Int], connectSeconds: Double) {
        self.load = load
        self.transport = transport
        self.roomNames = roomNames
        self.states = states
        self.handles = handles
        self.readyPerRoom = readyPerRoom
        self.connectSeconds = connectSeconds
    }

    /// Opens `count` subscribers; subscriber `i` follows room `roomOf(i)`. Failures are counted as errors
    /// (the first few logged); the pool holds whoever got ready.
    static func open(load: LoadContext, transport: BenchTransport, roomNames: [String], count: Int, roomOf: @escaping (Int) -> Int,
                     runID: String, distinctUsers: Bool, concurrency: Int, log: @Sendable (String) -> Void) async -> SubscriberPool {
        let started = BenchClock.monotonicNanos()
        let states = (0..<count).map { SubscriberState(index: $0, room: roomOf($0)) }
        var handles = [SubscriberHandle?](repeating: nil, count: count)
        var readyPerRoom = [Int](repeating: 0, count: roomNames.count)
        var failures = 0
        let endpoint = load.endpoint
        await withTaskGroup(of: (Int, Result<SubscriberHandle, Error>).self) { group in
            var next = 0
            func launch() {
                let index = next
                next += 1
                let state = states[index]
                let room = roomNames[state.room]
                let user = distinctUsers ? "bench-\(runID)-\(index)" : "bench-\(runID)"
                let client = "bench-\(runID)-\(index)"
                let path = endpoint.subscribePath(transport, room: room, user: user, client: client)
                let loop = load.loop(for: index)
                group.addTask {
                    do {
                        switch transport {
                        case .ws:
                            let auth = endpoint.target == .moonwire ? WebSocketSubscriber.moonwireAuthFrame(user: user, rooms: [room]) : nil
                            let subscriber = try await WebSocketSubscriber.connect(load: load, loop: loop, path: path, state: state, authFrame: auth).get()
                            return (index, .success(.webSocket(subscriber)))
                        case .sse:
                            let subscriber = try await SSESubscriber.connect(load: load, loop: loop, path: path, state: state).get()
                            return (index, .success(.sse(subscriber)))
                        case .poll:
                            let subscriber = try await LongPollSubscriber.start(load: load, loop: loop, path: path, state: state).get()
                            return (index, .success(.poll(subscriber)))
                        }
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            while next < min(count, max(1, concurrency)) { launch() }
            while let (index, result) = await group.next() {
                switch result {
                case .success(let handle):
                    handles[index] = handle
                    readyPerRoom[states[index].room] += 1
                case .failure(let error):
                    failures += 1
                    load.error("connect failed", "\(transport.rawValue) subscriber \(index): \(error)")
                    if failures <= 3 { log("subscriber \(index) failed to connect: \(error)") }
                }
                if next < count { launch() }
            }
        }
        let pool = SubscriberPool(load: load, transport: transport, roomNames: roomNames, states: states, handles: handles,
                                  readyPerRoom: readyPerRoom, connectSeconds: BenchClock.seconds(since: started))
        if failures > 0 { log("\(failures) of \(count) subscribers failed to connect") }
        return pool
    }

    /// For a pool of one room on Moonwire: waits until the hub counts every ready subscriber in it
    /// (`GET /api/rooms/ROOM` `connections`; long-poll sessions join on their first poll). Returns the last
    /// count seen. Nchan subscribes before it answers a WebSocket upgrade or an EventSource request, and its
    /// long-polls start from the oldest message of a fresh channel (`nchan_subscriber_first_message
    /// oldest`), so nothing is lost there; its own subscriber count is per worker, hence not asked.
    @discardableResult
    func awaitServerCount(timeout: Double = 15) async -> Int? {
        guard roomNames.count == 1 else { return nil }
        if load.endpoint.target == .nchan {
            if transport == .poll { try? await Task.sleep(nanoseconds: 300_000_000) }
            return nil
        }
        let room = roomNames[0]
        let want = readyCount
        let started = BenchClock.monotonicNanos()
        var last: Int?
        guard let connection = try? await HTTPConnection.connect(load.endpoint, on: load.loops[0]) else { return nil }
        defer { connection.close() }
        while BenchClock.seconds(since: started) < timeout {
            let reply: HTTPReply?
            switch load.endpoint.target {
            case .moonwire: reply = try? await connection.request(.GET, "/api/rooms/\(room)")
            case .nchan: reply = try? await connection.request(.GET, "/pub?id=\(room)", headers: [("Accept", "text/json")])
            }
            if let reply, reply.status == 200,
               let object = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any] {
                let value = (object["connections"] ?? object["subscribers"]) as? Int
                last = value
                if let value, value >= want { return value }
            }
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
        return last
    }

    func close() {
        for handle in handles { handle?.close() }
    }
}
