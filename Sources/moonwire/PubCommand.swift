import ArgumentParser
import Foundation
import MoonwireClient
import MoonwireCore

/// `moonwire pub ROOM --type TYPE DATA`: publishes one event and prints its id.
struct PubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pub",
        abstract: "Publish one event to a room and print its id.",
        discussion: """
            By default through the server API (POST /api/publish; --api-key when the hub has one, also \
            MOONWIRE_SERVER_API_KEY), as --user if given, else as `system`. With --transport, through a connection of \
            that transport (WebSocket: acknowledged on the socket; SSE and poll: POST /publish) as --user, with \
            --token for an auth plugin. Prints the event id on stdout (nothing for an event that is not stored). On a \
            refusal, prints the hub's error code and message on stderr and exits 1.
            """
    )

    @Argument(help: "The room.")
    var room: String

    @Argument(help: #"The event's data: a JSON object, e.g. '{"message":"hi"}'."#)
    var data: String

    @Option(help: "The event type.")
    var type = "message"

    @Option(help: "The hub's base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(name: .customLong("api-key"), help: "The hub's API key, if it has one (server API only).")
    var apiKey: String?

    @Option(help: "Publish through a connection of this transport instead of the server API: ws, sse or poll.")
    var transport: TransportOption?

    @Option(help: "The user id to publish as.")
    var user: String?

    @Option(help: "Token for the hub's auth plugin (with --transport).")
    var token: String?

    @Option(help: "Seconds to wait for the hub.")
    var timeout: Double = 10

    func validate() throws {
        if transport != nil, apiKey != nil { throw ValidationError("--api-key is for the server API; leave it out with --transport") }
        if transport == nil, token != nil { throw ValidationError("--token needs --transport (the server API takes --api-key)") }
        if !(timeout > 0) { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let payload: JSONValue
        do {
            payload = try JSONParser().parse(data)
        } catch {
            Output.error("DATA is not valid JSON: \(error)")
            throw ExitCode(2)
        }
        guard payload.objectValue != nil else {
            Output.error("DATA must be a JSON object, got \(payload.typeName)")
            throw ExitCode(2)
        }
        do {
            let id = try await transport == nil ? publishThroughAPI(payload) : publishThroughConnection(payload)
            if let id {
                Output.line(id)
            } else {
                Output.error("published; the event is not stored, so it has no id")
            }
        } catch {
            let error = MoonwireError.from(error)
            Output.error("\(error.code): \(error.message)")
            throw ExitCode(1)
        }
    }

    private var limit: Duration { .milliseconds(Int64(timeout * 1000)) }

    /// `POST /api/publish`; the id of the published event.
    private func publishThroughAPI(_ payload: JSONValue) async throws -> String? {
        let key = apiKey ?? ProcessInfo.processInfo.environment["MOONWIRE_SERVER_API_KEY"]
        let http = HubHTTPClient(baseURL: url, headers: key.map { [("X-API-Key", $0)] } ?? [], retryConnecting: false)
        var body: JSONObject = ["room": .string(room), "event_type": .string(type), "data": payload]
        if let user { body["user_id"] = .string(user) }
        let reply = try await http.request("POST", "/api/publish", json: .object(body), timeout: limit)
        guard reply.status == 200 else { throw MoonwireError(reply: reply) }
        guard let event = reply.body?["event"], let stored = event["event_id"]?.stringValue else {
            throw MoonwireError(code: "bad_reply", message: "unexpected answer: \(reply.text.prefix(200))")
        }
        return EventID(stored) == nil ? nil : stored
    }

    /// Connects over the transport, publishes, closes.
    private func publishThroughConnection(_ payload: JSONValue) async throws -> String? {
        guard let transport else { return nil }
        let client = MoonwireClient(
            .init(
                url: url, userID: user ?? (token == nil ? "cli-\(RandomID.token(length: 6))" : nil), token: token, rooms: [room],
                transport: transport.transport,
                replay: 0, openTimeout: limit, requestTimeout: limit))
        do {
            try await Self.connect(client, within: limit)
            let id = try await client.publish(room: room, type: type, data: payload)
            await client.close()
            return id?.description
        } catch {
            await client.close()
            throw error
        }
    }

    /// `connect()`, but giving up after `limit` (the client would otherwise keep retrying an unreachable hub).
    private static func connect(_ client: MoonwireClient, within limit: Duration) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.connect() }
            group.addTask {
                // The first failed attempt is the answer: a command line does not wait for a hub to come back.
                for await item in client.events {
                    if case .status(.reconnecting(_, _, let reason?)) = item { throw reason }
                }
                try await Task.sleep(for: .seconds(3600))
            }
            group.addTask {
                try await Task.sleep(for: limit)
                throw MoonwireError(code: "timeout", message: "could not connect within \(limit)")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
