import Foundation
import MoonwireClient
import MoonwireCore

#if canImport(Glibc)
import Glibc
#endif

/// A `moonwire serve` process with a plugins directory of its own: for hostile plugins, whose harm must
/// land on a hub process that the test can watch (its memory is the hub's alone) and not on the test runner.
final class PluginHubProcess: Sendable {
    let directory: String
    let port: Int
    let run: CommandRun

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var http: HubHTTPClient { HubHTTPClient(baseURL: baseURL) }

    private init(directory: String, port: Int, run: CommandRun) {
        self.directory = directory
        self.port = port
        self.run = run
    }

    /// Writes `files` into a fresh directory and starts a hub on them (file watching off), with `settings`
    /// as `--set` pairs (`plugins.max_timers=2000`).
    static func start(_ files: [(name: String, source: String)], settings: [String] = []) async throws -> PluginHubProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("moonwire-hostile-\(RandomID.token(length: 10))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, source) in files {
            try source.write(toFile: (directory as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        // Port 0: the hub binds a free port itself and logs it (a port picked here could be taken by
        // another test before the hub binds it).
        var arguments = [
            "serve", "--host", "127.0.0.1", "--port", "0", "--log-level", "info", "--plugins", directory,
            "--set", "server.examples_dir=", "--set", "server.shutdown_timeout=2", "--set", "plugins.watch=false",
        ]
        for setting in settings { arguments += ["--set", setting] }
        let run = try CommandRun(arguments)
        do {
            try await run.waitForStdout("Moonwire listening", timeout: .seconds(30))
        } catch {
            run.terminate()
            _ = try? await run.exitStatus(timeout: .seconds(15))
            try? FileManager.default.removeItem(atPath: directory)
            throw ProbeError.unexpected("the hub did not start: \(run.stderr.suffix(3000))")
        }
        guard let line = run.lines.first(where: { $0.contains("Moonwire listening") }),
            let address = line.split(separator: " ").first(where: { $0.hasPrefix("address=") }),
            let port = Int(address.split(separator: ":").last ?? "")
        else {
            run.terminate()
            throw ProbeError.unexpected("no port in the hub's log: \(run.stdout.suffix(2000))")
        }
        return PluginHubProcess(directory: directory, port: port, run: run)
    }

    /// Stops the hub and removes its directory.
    func stop() async {
        run.terminate()
        _ = try? await run.exitStatus(timeout: .seconds(15))
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Whether the process is still running (it has not crashed).
    var isAlive: Bool { run.isRunning }

    /// The hub's resident memory, in bytes.
    func residentBytes() throws -> Int { try run.residentBytes() }

    /// `POST /api/publish`, answered whatever the plugins decide (the reply is returned, not checked).
    @discardableResult
    func publish(_ data: JSONValue, room: String = "general", type: String = "message", timeout: Duration = .seconds(30)) async throws
        -> HubHTTPClient.Reply
    {
        try await http.request(
            "POST", "/api/publish", json: ["room": .string(room), "event_type": .string(type), "data": data, "user_id": "tester"], timeout: timeout)
    }

    /// Checks that the hub serves an ordinary client: `/health` and a plain publish, each answered within
    /// `deadline` (long enough for a busy machine, far shorter than a frozen hub). The publish must succeed
    /// unless `publishMayBeRefused` (it goes through the hostile plugin's hook, which may be busy).
    func expectServing(deadline: Duration = .seconds(5), publishMayBeRefused: Bool = false, _ context: String) async throws {
        guard isAlive else { throw ProbeError.unexpected("\(context): the hub process died: \(run.stderr.suffix(3000))") }
        let health = try await http.request("GET", "/health", timeout: deadline)
        guard health.status == 200 else { throw ProbeError.unexpected("\(context): /health answered \(health.status)") }
        let plain = try await publish(["message": "still here"], room: "lobby", timeout: deadline)
        guard plain.status == 200 || publishMayBeRefused else {
            throw ProbeError.unexpected("\(context): a plain publish answered \(plain.status) \(plain.text)")
        }
    }

    /// The entry of plugin `name` in `GET /api/plugins`.
    func plugin(_ name: String) async throws -> JSONValue? {
        let reply = try await http.request("GET", "/api/plugins")
        return reply.body?["plugins"]?.arrayValue?.first { $0["name"]?.stringValue == name }
    }

    /// Failures of a plugin's hook by reason, from `/api/plugins`.
    func failures(_ name: String, hook: String) async throws -> [String: Int] {
        let object = try await plugin(name)?["stats"]?[hook]?["failures"]?.objectValue ?? [:]
        return Dictionary(uniqueKeysWithValues: object.map { ($0.key, Int($0.value.intValue ?? 0)) })
    }

    /// Writes (or replaces) a plugin file.
    func writePlugin(_ name: String, _ source: String) throws {
        try source.write(toFile: (directory as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// `POST /api/plugins/reload`.
    func reload() async throws -> HubHTTPClient.Reply {
        try await http.request("POST", "/api/plugins/reload")
    }

}

/// Runs `body` against a hub process with `files` as its plugins; stops it afterwards.
func withPluginHub(
    _ files: [(name: String, source: String)], settings: [String] = [], _ body: (PluginHubProcess) async throws -> Void
) async throws {
    let hub = try await PluginHubProcess.start(files, settings: settings)
    do {
        try await body(hub)
    } catch {
        await hub.stop()
        throw error
    }
    await hub.stop()
}
