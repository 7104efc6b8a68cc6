import Foundation
import Logging
import MoonwireCore
import MoonwireServer
import ServiceLifecycle

/// The repository's root, found from this file.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Runs `body` against a hub started with an example's own configuration (examples/NAME/moonwire.toml),
/// on a free port, serving the repository's examples and plugins.
func withExampleHub(_ name: String, _ adjust: (inout ServerConfiguration) -> Void = { _ in }, _ body: (LiveHub) async throws -> Void)
    async throws
{
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
    adjust(&configuration)
    var logger = Logger(label: "moonwire.example")
    logger.logLevel = .error
    let app = MoonwireApplication(configuration: configuration, logger: logger)
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
        if let failure { throw failure }
    }
}
