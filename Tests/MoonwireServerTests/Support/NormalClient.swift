import MoonwireClient
import MoonwireCore

/// A well-behaved client that checks the hub keeps serving it while an attack runs: a WebSocket in a room
/// of its own whose messages must be acknowledged within a deadline. The deadline is generous (a loaded
/// machine stays well within it); a frozen hub misses it.
struct NormalClient: Sendable {
    let probe: WebSocketProbe
    let room: String

    static func open(port: Int, user: String = "normal-\(RandomID.token(length: 6))") async throws -> NormalClient {
        let room = "normal-\(RandomID.token(length: 8))"
        let session = try await WebSocketSession.connect(
            url: "ws://127.0.0.1:\(port)/ws", authFrame: ["user_id": .string(user), "metadata": [:], "rooms": [.string(room)]])
        let probe = WebSocketProbe(session)
        _ = try await probe.next(type: "notification", timeout: .seconds(10))
        return NormalClient(probe: probe, room: room)
    }

    /// Publishes a message in its room and waits for the hub's ack.
    func roundTrip(deadline: Duration = .seconds(5)) async throws {
        let reply = try await probe.request(
            ["event_type": "message", "room_id": .string(room), "data": ["message": "still there?"]], timeout: deadline)
        guard reply["event_type"]?.stringValue == "ack" else { throw ProbeError.unexpected("normal client refused: \(reply)") }
    }

    /// Runs `attack`, round-tripping every 200 ms meanwhile (each within `deadline`); returns what the
    /// attack returns and how many round trips were made while it ran (at least one).
    func keepsServing<T: Sendable>(
        deadline: Duration = .seconds(5), during attack: @escaping @Sendable () async throws -> T
    ) async throws -> (result: T, roundTrips: Int) {
        try await withThrowingTaskGroup(of: Either<T>.self) { group in
            group.addTask { .attack(try await attack()) }
            group.addTask {
                var count = 0
                while !Task.isCancelled {
                    try await roundTrip(deadline: deadline)
                    count += 1
                    try? await Task.sleep(for: .milliseconds(200))
                }
                return .roundTrips(count)
            }
            guard case .attack(let result)? = try await group.next() else {
                throw ProbeError.unexpected("the round trips ended before the attack")
            }
            group.cancelAll()
            var roundTrips = 0
            while let next = try? await group.next() {
                if case .roundTrips(let count) = next { roundTrips = count }
            }
            // One more, now that the attack is over, within the deadline.
            try await roundTrip(deadline: deadline)
            return (result, roundTrips + 1)
        }
    }

    func close() async { await probe.close() }

    private enum Either<T: Sendable>: Sendable {
        case attack(T)
        case roundTrips(Int)
    }
}
