import ArgumentParser

/// The `moonwire` command.
@main
struct Moonwire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moonwire",
        abstract: "A real-time event hub: WebSocket, Server-Sent Events and long-polling, scripted in Lua.",
        subcommands: [ServeCommand.self, ConfigCommand.self, PluginsCommand.self, SubCommand.self, PubCommand.self, BenchCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
