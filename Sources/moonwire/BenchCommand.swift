import ArgumentParser
import Foundation
import MoonwireBench

extension BenchScenario: ExpressibleByArgument {}
extension BenchTarget: ExpressibleByArgument {}
extension BenchTransport: ExpressibleByArgument {}

/// `moonwire bench SCENARIO`: the load generator (docs/performance.md).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test a hub (or Nchan): fan-out, many rooms, chat, connection storm, idle memory, plugins, reload, many-key events, join storms.",
        discussion: """
            Scenarios: fanout (one room, N subscribers), rooms (R rooms, one subscriber each), chat (WebSocket clients \
            publishing and receiving), storm (rising connects per second until failures), idle (N connections held; \
            server memory per connection), plugins (fan-out with no plugin, one and three on_publish hooks, an on_deliver \
            filter; needs --hub-binary), reload (plugins reloaded every second while events flow), manykeys (POST /publish of \
            events with --keys keys against a hub with plugins, the shipped ones by default: the hub's CPU per event), joinstorm \
            (--subscribers users join one room, then leave: presence announcements, the hub's CPU, another room's round \
            trips), compare (the fan-out \
            matrix against Moonwire and Nchan, as `make bench-vs-nchan` runs it). Every run reports delivered events/s, \
            publish-to-receive latency (p50, p99, p99.9), the server's CPU and memory (with --hub-pid or --hub-binary), \
            errors, and the counts: published, expected, received, duplicates, missing. Loopback servers only.
            """
    )

    @Argument(help: "fanout, rooms, chat, storm, idle, plugins, reload, manykeys, joinstorm or compare.")
    var scenario: BenchScenario

    @Option(help: "The server: moonwire or nchan.")
    var target: BenchTarget = .moonwire

    @Option(help: "The server's base URL (default http://127.0.0.1:8080 for moonwire, http://127.0.0.1:8090 for nchan).")
    var url: String?

    @Option(name: .customLong("api-key"), help: "Moonwire's API key, if it has one (also MOONWIRE_SERVER_API_KEY).")
    var apiKey: String?

    @Option(help: "Subscriber transport: ws, sse or poll.")
    var transport: BenchTransport = .ws

    @Option(help: "Subscribers (fanout 1000, reload 200), clients (chat 500), held connections (idle 15000) or joining users (joinstorm 1000).")
    var subscribers: Int?

    @Option(help: "Rooms of the rooms scenario, one subscriber each.")
    var rooms = 10_000

    @Option(name: .customLong("room-size"), help: "Chat: clients per room.")
    var roomSize = 50

    @Option(help: "Events per second, all publishers together (default: full speed).")
    var rate: Double?

    @Flag(name: .customLong("full-speed"), help: "Publish as fast as deliveries complete (the default when --rate is not given).")
    var fullSpeed = false

    @Option(help: "Full speed: most events published but not yet delivered to every subscriber (fanout 32, rooms rooms/10).")
    var window: Int?

    @Option(help: "Payload size in bytes (at least 64).")
    var payload = 100

    @Option(help: "Seconds of publishing.")
    var duration = 10.0

    @Option(help: "Seconds without a delivery after which a run stops waiting for the last ones.")
    var drain = 5.0

    @Option(help: "HTTP publisher connections.")
    var publishers = 2

    @Option(help: "Event-loop threads of the load generator (default: one per core).")
    var threads: Int?

    @Option(name: .customLong("connect-concurrency"), help: "Connections opened at once.")
    var connectConcurrency = 256

    @Option(name: .customLong("hub-pid"), help: "The server's process id: CPU% and memory are read from /proc (its children included).")
    var hubPID: Int32?

    @Option(name: .customLong("hub-binary"), help: "A moonwire binary to start for the run on a free loopback port (plugins: one per variant).")
    var hubBinary: String?

    @Option(name: .customLong("hub-arg"), parsing: .unconditionalSingleValue, help: "Extra argument for the started hub (repeatable), e.g. --hub-arg=--set --hub-arg=rooms.history_size=500.")
    var hubArguments: [String] = []

    @Option(name: .customLong("plugins-dir"), help: "The plugins of the hub started with --hub-binary (default none; manykeys: ./plugins, \"\" for none). Reload against a running hub: its plugins directory (the scenario writes bench_reload.lua there).")
    var pluginsDirectory: String?

    @Flag(name: .customLong("distinct-users"), help: "One user id per subscriber (each join is announced to the room) instead of one shared id.")
    var distinctUsers = false

    @Option(name: .customLong("message-rate"), help: "Chat: messages per second per client.")
    var messageRate = 1.0

    @Option(name: .customLong("start-rate"), help: "Storm: connects per second of the first step.")
    var startRate = 100.0

    @Option(name: .customLong("rate-factor"), help: "Storm: rate multiplier between steps.")
    var rateFactor = 2.0

    @Option(name: .customLong("max-rate"), help: "Storm: highest connects per second tried.")
    var maxRate = 10_000.0

    @Option(name: .customLong("step-seconds"), help: "Storm: seconds per step.")
    var stepSeconds = 1.0

    @Option(name: .customLong("max-connections"), help: "Storm: most connections opened in all.")
    var maxConnections = 15_000

    @Flag(name: .customLong("hold"), help: "Storm: keep the connections open instead of closing each once ready.")
    var holdConnections = false

    @Option(name: .customLong("hold-seconds"), help: "Idle: seconds the connections are held before memory is read.")
    var holdSeconds = 5.0

    @Option(name: .customLong("reload-interval"), help: "Reload: seconds between reloads.")
    var reloadInterval = 1.0

    @Option(help: "Manykeys: key counts of the events, comma-separated.")
    var keys = "1000,4000,16000"

    @Option(help: "Manykeys: events published per key count.")
    var events = 3

    @Option(name: .customLong("compare-subscribers"), help: "Compare: subscriber counts, comma-separated.")
    var compareSubscribers = "1000,5000"

    @Option(name: .customLong("compare-transports"), help: "Compare: transports, comma-separated.")
    var compareTransports = "ws,sse,poll"

    @Option(name: .customLong("compare-payloads"), help: "Compare: payload sizes, comma-separated.")
    var comparePayloads = "100,1024"

    @Option(name: .customLong("compare-modes"), help: "Compare: rate and/or full, comma-separated.")
    var compareModes = "rate,full"

    @Option(name: .customLong("deliveries-per-second"), help: "Compare: deliveries per second of the fixed-rate runs (event rate = this / subscribers).")
    var deliveriesPerSecond = 20_000.0

    @Option(name: .customLong("moonwire-url"), help: "Compare: Moonwire's base URL.")
    var moonwireURL = "http://127.0.0.1:8080"

    @Option(name: .customLong("moonwire-pid"), help: "Compare: Moonwire's process id.")
    var moonwirePID: Int32?

    @Option(name: .customLong("nchan-url"), help: "Compare: Nchan's base URL.")
    var nchanURL = "http://127.0.0.1:8090"

    @Option(name: .customLong("nchan-pid"), help: "Compare: nginx's master process id (its workers are counted too).")
    var nchanPID: Int32?

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    @Option(name: .customLong("json-out"), help: "Also write the results as JSON to this file.")
    var jsonOut: String?

    @Flag(help: "No progress lines on stderr.")
    var quiet = false

    func validate() throws {
        if let subscribers, subscribers < 1 { throw ValidationError("--subscribers must be at least 1") }
        if rooms < 1 { throw ValidationError("--rooms must be at least 1") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
        if rate != nil && fullSpeed { throw ValidationError("--rate and --full-speed exclude each other") }
        if payload < 64 { throw ValidationError("--payload must be at least 64 bytes") }
        if duration <= 0 { throw ValidationError("--duration must be positive") }
        if publishers < 1 { throw ValidationError("--publishers must be at least 1") }
        if let window, window < 1 { throw ValidationError("--window must be at least 1") }
        _ = try parsedTransports()
        _ = try parsedInts(compareSubscribers, "--compare-subscribers")
        _ = try parsedInts(comparePayloads, "--compare-payloads")
        _ = try parsedInts(keys, "--keys")
        if events < 1 { throw ValidationError("--events must be at least 1") }
        for mode in compareModes.split(separator: ",") where mode != "rate" && mode != "full" {
            throw ValidationError("--compare-modes takes rate and full")
        }
    }

    private func parsedTransports() throws -> [BenchTransport] {
        try compareTransports.split(separator: ",").map {
            guard let transport = BenchTransport(rawValue: String($0)) else { throw ValidationError("unknown transport '\($0)'") }
            return transport
        }
    }

    private func parsedInts(_ text: String, _ name: String) throws -> [Int] {
        try text.split(separator: ",").map {
            guard let value = Int($0), value > 0 else { throw ValidationError("\(name): '\($0)' is not a positive number") }
            return value
        }
    }

    func run() async throws {
        var options = BenchOptions()
        options.target = target
        options.url = url
        options.apiKey = apiKey ?? ProcessInfo.processInfo.environment["MOONWIRE_SERVER_API_KEY"]
        options.transport = transport
        options.subscribers = subscribers
        options.rooms = rooms
        options.roomSize = roomSize
        options.rate = rate
        options.window = window
        options.payloadBytes = payload
        options.duration = duration
        options.drain = drain
        options.publishers = publishers
        if let threads { options.threads = max(1, threads) }
        options.connectConcurrency = max(1, connectConcurrency)
        options.hubPID = hubPID
        options.hubBinary = hubBinary
        options.hubArguments = hubArguments
        options.pluginsDirectory = pluginsDirectory
        options.distinctUsers = distinctUsers
        options.messageRate = messageRate
        options.startRate = startRate
        options.rateFactor = rateFactor
        options.maxRate = maxRate
        options.stepSeconds = stepSeconds
        options.maxConnections = maxConnections
        options.holdConnections = holdConnections
        options.hold = holdSeconds
        options.reloadInterval = reloadInterval
        options.keys = try parsedInts(keys, "--keys")
        options.events = events
        options.compareSubscribers = try parsedInts(compareSubscribers, "--compare-subscribers")
        options.compareTransports = try parsedTransports()
        options.comparePayloads = try parsedInts(comparePayloads, "--compare-payloads")
        options.compareModes = compareModes.split(separator: ",").map(String.init)
        options.compareDeliveriesPerSecond = deliveriesPerSecond
        options.moonwireURL = moonwireURL
        options.moonwirePID = moonwirePID
        options.nchanURL = nchanURL
        options.nchanPID = nchanPID
        if !quiet { options.log = { Output.error($0) } }

        let results: [BenchResult]
        do {
            results = try await Bench.run(scenario, options)
        } catch {
            Output.error("bench \(scenario.rawValue): \(error)")
            throw ExitCode(1)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(results)
        if let jsonOut { try data.write(to: URL(fileURLWithPath: jsonOut)) }
        if json {
            Output.line(String(decoding: data, as: UTF8.self))
        } else {
            Output.line(ResultTable.render(results))
            if scenario == .compare { Output.line(ResultTable.comparison(results)) }
        }
    }
}
