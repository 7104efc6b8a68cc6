import ArgumentParser
import Foundation
import Logging
import MoonwireServer

/// `moonwire serve`: runs the hub until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the hub.",
        discussion: """
            Settings come from the defaults, then the configuration file, then MOONWIRE_* environment variables,
            then these flags. `moonwire config defaults` prints every key with its default.
            """
    )

    @Option(name: .shortAndLong, help: "Configuration file (TOML). Default: ./moonwire.toml when it exists.")
    var config: String?

    @Option(help: "Address to listen on.")
    var host: String?

    @Option(name: .shortAndLong, help: "Port for every transport and the API.")
    var port: Int?

    @Option(name: .customLong("api-key"), help: "Key that /api/*, /trigger and /message require.")
    var apiKey: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    @Option(name: .customLong("plugins"), help: "Directory of Lua plugins.")
    var pluginsDirectory: String?

    @Option(name: .customLong("broker"), help: "memory, sqlite:PATH (history kept in a file) or redis://HOST:PORT[/DB] (several nodes as one hub).")
    var broker: String?

    @Option(name: .customLong("history-max-age"), help: "Seconds an event stays in room history at most (0: no limit).")
    var historyMaxAge: Double?

    @Option(name: .customLong("presence-ttl"), help: "Redis: seconds after which a vanished node's users are announced as left.")
    var presenceTTL: Double?

    @Option(name: .customLong("set"), help: "Override one key: --set rooms.history_size=500 (repeatable).")
    var overrides: [String] = []

    func run() async throws {
        let configuration: ServerConfiguration
        do {
            configuration = try loadConfiguration()
        } catch {
            FileHandle.standardError.write(Data("moonwire: invalid configuration: \(error)\n".utf8))
            throw ExitCode(2)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = configuration.logLevel
            return handler
        }
        let app: MoonwireApplication
        do {
            app = try await MoonwireApplication.make(configuration: configuration)
        } catch {
            FileHandle.standardError.write(Data("moonwire: cannot start the broker (\(configuration.brokerURL)): \(error)\n".utf8))
            throw ExitCode(2)
        }
        if let report = app.loadPlugins(), !report.succeeded {
            for failure in report.failed {
                FileHandle.standardError.write(Data("moonwire: \(failure.message)\n".utf8))
            }
            FileHandle.standardError.write(Data("moonwire: fix the plugins above (or move them out of \(configuration.pluginsDirectory)/) and start again\n".utf8))
            throw ExitCode(2)
        }
        try await app.run()
    }

    func loadConfiguration() throws -> ServerConfiguration {
        var fileText: String?
        var fileName = "moonwire.toml"
        if let config {
            fileName = config
            guard let data = FileManager.default.contents(atPath: config) else {
                throw ConfigurationError("cannot read configuration file '\(config)'")
            }
            fileText = String(decoding: data, as: UTF8.self)
        } else if let data = FileManager.default.contents(atPath: "moonwire.toml") {
            fileText = String(decoding: data, as: UTF8.self)
        }
        var configuration = ServerConfiguration()
        if let fileText {
            try ConfigurationLoader.apply(fileText: fileText, fileName: fileName, to: &configuration)
            configuration.configurationFile = fileName
        }
        try ConfigurationLoader.apply(environment: ProcessInfo.processInfo.environment, to: &configuration)
        var flags: [String] = overrides
        if let host { flags.append("server.host=\(host)") }
        if let port { flags.append("server.port=\(port)") }
        if let apiKey { flags.append("server.api_key=\(apiKey)") }
        if let logLevel { flags.append("log.level=\(logLevel)") }
        if let pluginsDirectory { flags.append("plugins.directory=\(pluginsDirectory)") }
        if let broker { flags.append("broker.url=\(broker)") }
        if let historyMaxAge { flags.append("broker.history_max_age=\(historyMaxAge)") }
        if let presenceTTL { flags.append("broker.presence_ttl=\(presenceTTL)") }
        for flag in flags {
            try ConfigurationLoader.apply(override: flag, to: &configuration)
        }
        try ConfigurationLoader.validate(configuration)
        return configuration
    }
}
