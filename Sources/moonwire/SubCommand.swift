import ArgumentParser
import Foundation
import MoonwireClient
import MoonwireCore

/// `moonwire sub ROOM…`: prints the events of rooms as JSON lines until interrupted (or `--count` events).
struct SubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sub",
        abstract: "Follow rooms and print their events, one JSON line each.",
        discussion: """
            Each event the hub delivers is printed on stdout as its wire JSON (event_id, event_type, user_id, room_id, \
            data, timestamp), once, in order. Connection changes, gaps (events the hub no longer has) and errors go to \
            stderr. The client reconnects by itself and resumes every room from the last event it printed. \
            Runs until interrupted (SIGINT, SIGTERM), or until --count events were printed.
            """
    )

    @Argument(help: "Rooms to follow.")
    var rooms: [String]

    @Option(help: "Transport: ws, sse or poll.")
    var transport: TransportOption = .ws

    @Option(help: "The hub's base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(help: "User id to connect as (default: cli-<random>, or the token's user).")
    var user: String?

    @Option(help: "Token for the hub's auth plugin.")
    var token: String?

    @Option(help: "Recent events to print first, per room.")
    var replay = 0

    @Option(help: "Exit after printing this many events.")
    var count: Int?

    func validate() throws {
        for room in rooms {
            if let error = RoomName.validate(room) { throw ValidationError(error.message) }
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if replay < 0 { throw ValidationError("--replay must not be negative") }
    }

    func run() async throws {
        let client = MoonwireClient(
            .init(
                url: url, userID: user ?? (token == nil ? "cli-\(RandomID.token(length: 6))" : nil), token: token, rooms: rooms,
                transport: transport.transport,
                replay: replay))
        let signals = Signals.onInterrupt { Task { await client.close() } }
        defer { signals.cancel() }
        let connecting = Task { try await client.connect() }
        var printed = 0
        var failure: MoonwireError?
        reading: for await item in client.events {
            switch item {
            case .event(let event) where event.type == .error:
                let code = event.data["code"]?.stringValue ?? "error"
                let message = event.data["message"]?.stringValue ?? ""
                Output.error("error in \(event.roomID ?? "the connection"): \(code): \(message)")
            case .event(let event):
                Output.line(String(decoding: event.jsonBytes, as: UTF8.self))
                printed += 1
                if let count, printed >= count {
                    await client.close()
                    break reading
                }
            case .gap(let gap):
                Output.error("gap in \(gap.room): \(gap.message)")
            case .status(.connecting):
                Output.error("connecting to \(url) over \(transport.rawValue)")
            case .status(.open):
                Output.error("connected over \(transport.rawValue): \(await client.rooms.joined(separator: ", "))")
            case .status(.reconnecting(let attempt, let delay, let reason)):
                let seconds = String(format: "%.1f", Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
                Output.error("connection lost (\(reason?.description ?? "unknown reason")); reconnecting in \(seconds) s (attempt \(attempt))")
            case .status(.closed(let error)):
                failure = error
            }
        }
        connecting.cancel()
        if let failure {
            Output.error("\(failure.code): \(failure.message)")
            throw ExitCode(1)
        }
    }
}
