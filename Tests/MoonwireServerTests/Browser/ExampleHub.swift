import Foundation
import Logging
import MoonwireCore
import MoonwireServer
import ServiceLifecycle

/// The repository's root, found from this file.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// An example's own configuration (examples/NAME/moonwire.toml) for a test hub: a free port, the
/// repository's examples and plugins, and a history file of its own when the example keeps one.
func exampleConfiguration(_ name: String) throws -> ServerConfiguration {
    let file = repositoryRoot.appendingPathComponent("examples/\(name)/moonwire.toml")
    var configuration = try ConfigurationLoader.load(fileText: try String(contentsOf: file, encoding: .utf8), fileName: file.path, environment: [:])
    configuration.port = 0
    configuration.host = "127.0.0.1"
    configuration.logLevel = .error
    configuration.examplesDirectory = repositoryRoot.appendingPathComponent("examples").path
    if !configuration.pluginsDirectory.isEmpty {
        configuration.pluginsDirectory = repositoryRoot.appendingPathComponent(configuration.pluginsDirectory).path
    }
    configuration.pluginWatch = false
    if configuration.brokerURL.hasPrefix("sqlite:") {
        // The example's history file is the user's: each test hub gets a file of its own.
        configuration.brokerURL = "sqlite:" + NSTemporaryDirectory() + "moonwire-example-\(UUID().uuidString).sqlite"
    }
    return configuration
}

/// Deletes the history file `exampleConfiguration` made for a test hub, if it made one.
func removeExampleHistory(_ configuration: ServerConfiguration) {
    guard configuration.brokerURL.hasPrefix("sqlite:"), configuration.brokerURL.contains("moonwire-example-") else { return }
    let path = String(configuration.brokerURL.dropFirst("sqlite:".count))
    for file in [path, path + "-wal", path + "-shm"] { try? FileManager.default.removeItem(atPath: file) }
}

/// Runs `body` against a hub started with an example's own configuration (`exampleConfiguration`).
func withExampleHub(_ name: String, _ adjust: (inout ServerConfiguration) -> Void = { _ in }, _ body: (LiveHub) async throws -> Void)
    async throws
{
    var configuration = try exampleConfiguration(name)
    adjust(&configuration)
    var logger = Logger(label: "moonwire.example")
    logger.logLevel = .error
    let app = try await MoonwireApplication.make(configuration: configuration, logger: logger)
    if let report = app.loadPlugins(), !report.succeeded {
        throw ProbeError.unexpected("example plugins failed to load: \(report.failed)")
    }
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let group = ServiceGroup(
        configuration: .init(services: app.services(onServerRunning: { continuation.yield($0) }).map { .init(service: $0) }, logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ProbeError.unexpected("example hub did not start") }
        var failure: (any Error)?
        do {
            try await body(LiveHub(port: port, hub: app.hub, serviceGroup: group))
        } catch {
            failure = error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        removeExampleHistory(configuration)
        if let failure { throw failure }
    }
}
