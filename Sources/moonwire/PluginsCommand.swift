import ArgumentParser
import Foundation
import MoonwireClient
import MoonwireCore
import MoonwirePlugins
import MoonwireServer

/// `moonwire plugins check FILE`, `test`, `bench` and `reload`.
struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "Check and test plugins, time them, or reload them in a running hub.",
        subcommands: [Check.self, Test.self, Replay.self, Reload.self, Bench.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile a plugin, validate its settings and list its hooks; exits non-zero with the error and line.")

        @Argument(help: "The plugin: a .lua file or a folder with init.lua.")
        var path: String

        @Option(name: .shortAndLong, help: "Configuration file whose [plugins.NAME] table holds the plugin's settings.")
        var config: String?

        func run() async throws {
            var configuration = ServerConfiguration()
            if let config {
                guard let data = FileManager.default.contents(atPath: config) else {
                    FileHandle.standardError.write(Data("moonwire: cannot read \(config)\n".utf8))
                    throw ExitCode(2)
                }
                do {
                    try ConfigurationLoader.apply(fileText: String(decoding: data, as: UTF8.self), fileName: config, to: &configuration)
                } catch {
                    FileHandle.standardError.write(Data("moonwire: invalid configuration: \(error)\n".utf8))
                    throw ExitCode(2)
                }
            }
            let source: PluginSource
            do {
                source = try PluginSource.read(path: path)
            } catch {
                FileHandle.standardError.write(Data("moonwire: cannot read plugin \(path): \(error.localizedDescription)\n".utf8))
                throw ExitCode(2)
            }
            switch PluginChecker.check(source, settings: configuration.pluginSettings) {
            case .success(let summary):
                print(summary)
            case .failure(let error):
                FileHandle.standardError.write(Data("moonwire: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask a running hub to reload its plugins (POST /api/plugins/reload).")

        @Option(help: "The hub's base URL.")
        var url = "http://127.0.0.1:8080"

        @Option(name: .customLong("api-key"), help: "The hub's API key, if it has one (also MOONWIRE_SERVER_API_KEY).")
        var apiKey: String?

        func run() async throws {
            let key = apiKey ?? ProcessInfo.processInfo.environment["MOONWIRE_SERVER_API_KEY"]
            let client = HubHTTPClient(baseURL: url, headers: key.map { [("Authorization", "Bearer \($0)")] } ?? [])
            let reply = try await client.request("POST", "/api/plugins/reload")
            print(reply.text)
            if reply.status != 200 { throw ExitCode(1) }
        }
    }
}
