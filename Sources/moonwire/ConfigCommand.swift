import ArgumentParser
import MoonwireServer

/// `moonwire config defaults`: prints a configuration file with every key at its default.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show configuration keys.",
        subcommands: [Defaults.self]
    )

    struct Defaults: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every key with its default, as a TOML file.")

        func run() {
            var section = ""
            for key in ConfigurationKey.all {
                if key.section != section {
                    section = key.section
                    print(section == ConfigurationKey.all.first?.section ? "[\(section)]" : "\n[\(section)]")
                }
                print("# \(key.help) (env: \(key.environmentVariable))")
                print("\(key.name) = \(key.defaultText)")
            }
        }
    }
}
