import Foundation

/// The scenarios of `moonwire bench` (docs/performance.md describes what each measures).
public enum BenchScenario: String, CaseIterable, Sendable {
    case fanout
    case rooms
    case chat
    case storm
    case idle
    case plugins
    case reload
    /// Events with many keys through `POST /publish`, with plugins: the hub's CPU per event.
    case manykeys
    /// Many users joining and leaving one room: presence announcements, CPU, another room's round trips.
    case joinstorm
    /// The fan-out matrix against Moonwire and Nchan, side by side (`make bench-vs-nchan`).
    case compare
}

/// Runs scenarios.
public enum Bench {
    public static func run(_ scenario: BenchScenario, _ options: BenchOptions) async throws -> [BenchResult] {
        FileLimit.raise()
        switch scenario {
        case .fanout: return try await FanoutScenario.run(options)
        case .rooms: return try await RoomsScenario.run(options)
        case .chat: return try await ChatScenario.run(options)
        case .storm: return try await StormScenario.run(options)
        case .idle: return try await IdleScenario.run(options)
        case .plugins: return try await PluginsScenario.run(options)
        case .reload: return try await ReloadScenario.run(options)
        case .manykeys: return try await ManyKeysScenario.run(options)
        case .joinstorm: return try await JoinStormScenario.run(options)
        case .compare: return try await CompareScenario.run(options)
        }
    }

    /// Runs `body` against the server the options name: a hub started from `hubBinary` (Moonwire only,
    /// with the plugins of `pluginsDirectory`, else of `--plugins-dir`, else none), else the one at `url` (with `hubPID` for /proc).
    static func withServer<T>(_ options: BenchOptions, pluginsDirectory: String? = nil,
                              _ body: (HubEndpoint, Int32?) async throws -> T) async throws -> T {
        if let binary = options.hubBinary, options.target == .moonwire {
            let spawner = LoadContext(endpoint: try options.endpoint(), threads: 1, payload: BenchPayload(runID: "0", size: 64))
            defer { Task { await spawner.shutdown() } }
            let hub = try await HubProcess.start(binary: binary, pluginsDirectory: pluginsDirectory ?? options.pluginsDirectory, extraArguments: options.hubArguments,
                                                 loop: spawner.loops[0])
            options.log("started \(binary) (pid \(hub.pid)) on 127.0.0.1:\(hub.port)")
            do {
                let result = try await body(HubEndpoint(target: .moonwire, host: "127.0.0.1", port: hub.port, apiKey: options.apiKey), hub.pid)
                await hub.stop()
                return result
            } catch {
                options.log("hub log: \(hub.logTail())")
                await hub.stop()
                throw error
            }
        }
        return try await body(try options.endpoint(), options.hubPID)
    }

    /// The full-speed window default: enough undelivered events to keep every connection busy.
    static func window(_ options: BenchOptions, default value: Int) -> Int {
        max(1, options.window ?? value)
    }

    static func mode(_ options: BenchOptions, defaultWindow: Int) -> PublishPhase.Mode {
        if let rate = options.rate, rate > 0 { return .rate(rate) }
        return .full(window: window(options, default: defaultWindow))
    }
}
