import ArgumentParser
import Foundation
import MoonwirePlugins

extension PluginsCommand {
    /// `moonwire plugins test [DIR|FILE...]`: runs the plugins' spec files (`NAME_test.lua`) against hubs in
    /// this process; exits 1 when a test fails.
    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run plugin spec files (NAME_test.lua beside NAME.lua) against a hub in this process; exit 1 on a failure.",
            discussion: """
                Each spec file runs in a sandboxed Lua state with describe / it / before_each / expect and the test \
                module: test.hub{...} makes a hub (memory history, a clock that moves only with hub:advance) with \
                the plugin NAME loaded, hub:connect(user, {roles, token, rooms}) goes through on_connect and \
                on_join, and connections send, receive, join, leave and disconnect. See docs/plugins.md §15.
                """)

        @Argument(help: "Plugins directories (their *_test.lua files) or spec files. Default: plugins.")
        var paths: [String] = []

        @Option(help: "Also write the results as JUnit XML to this file (for CI systems).")
        var junit: String?

        func run() async throws {
            let (specs, errors) = PluginSpec.find(paths.isEmpty ? ["plugins"] : paths)
            for error in errors { FileHandle.standardError.write(Data("moonwire: \(error)\n".utf8)) }
            guard errors.isEmpty else { throw ExitCode(1) }
            guard !specs.isEmpty else {
                FileHandle.standardError.write(Data("moonwire: no spec files (NAME_test.lua) in \(paths.isEmpty ? "plugins" : paths.joined(separator: ", "))\n".utf8))
                throw ExitCode(1)
            }
            var results: [PluginSpecResult] = []
            for spec in specs {
                print(spec.path)
                for result in await PluginSpecRunner.run(spec) {
                    results.append(result)
                    let time = String(format: "%.0f ms", result.seconds * 1000)
                    if let failure = result.failure {
                        print("  ✘ \(result.name) (\(time))")
                        for line in failure.split(separator: "\n", omittingEmptySubsequences: false) { print("      \(line)") }
                    } else {
                        print("  ✔ \(result.name) (\(time))")
                    }
                }
            }
            let report = PluginSpecReport(results: results)
            if let junit {
                do {
                    try report.junit.write(toFile: junit, atomically: true, encoding: .utf8)
                } catch {
                    FileHandle.standardError.write(Data("moonwire: cannot write \(junit): \(error.localizedDescription)\n".utf8))
                    throw ExitCode(1)
                }
            }
            print("\(results.count - report.failed) passed, \(report.failed) failed, in \(specs.count) spec file\(specs.count == 1 ? "" : "s")")
            if report.failed > 0 { throw ExitCode(1) }
        }
    }
}
