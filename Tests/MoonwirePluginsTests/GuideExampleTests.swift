import Foundation
import LuaRuntime
import MoonwireCore
import Testing
@testable import MoonwirePlugins

/// Every Lua example in `docs/plugins.md` compiles; the complete plugins in it load in a hub, and its
/// spec example passes against the shipped plugin, so the guide cannot drift from the code.
@Suite struct GuideExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The guide's ```lua blocks, with the line each starts on.
    static func examples() throws -> [(line: Int, code: String)] {
        let text = try String(contentsOf: root.appendingPathComponent("docs/plugins.md"), encoding: .utf8)
        var examples: [(Int, String)] = []
        var current: [String]?
        var start = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if current == nil, line == "```lua" {
                current = []
                start = index + 2
            } else if current != nil, line == "```" {
                examples.append((start, current!.joined(separator: "\n")))
                current = nil
            } else if current != nil {
                current!.append(String(line))
            }
        }
        return examples
    }

    /// The guide's notation made Lua: `{ ... }` and `function(...) ... end` placeholders emptied, and a
    /// line `expression --> result` (what the expression gives) made `local _ = expression`.
    static func runnable(_ code: String) -> String {
        code.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var line = String(line).replacingOccurrences(of: "{ ... }", with: "{}").replacingOccurrences(of: ") ... end", with: ") end")
            if let arrow = line.range(of: "-->") {
                let expression = line[..<arrow.lowerBound].trimmingCharacters(in: .whitespaces)
                if !expression.isEmpty, !expression.hasPrefix("local "), !expression.hasPrefix("--") { line = "local _ = \(expression)" }
            }
            return line
        }.joined(separator: "\n")
    }

    /// Compiles `code` as a chunk, as the fields of a table, or as a function's body (the forms the guide
    /// shows code in); the error of the last form when none fits.
    static func compiles(_ code: String, as name: String) throws -> String? {
        let state = try LuaState(limits: LuaLimits())
        var last: String?
        for form in [code, "return {\n\(code)\n}", "return function(ctx, event, room, user, text, recipient, config)\n\(code)\nend"] {
            do {
                _ = try state.compile(source: form, chunkName: name)
                return nil
            } catch {
                last = error.description
            }
        }
        return last
    }

    @Test func everyLuaExampleCompiles() throws {
        let examples = try Self.examples()
        #expect(examples.count >= 20)
        for (line, code) in examples {
            let problem = try Self.compiles(Self.runnable(code), as: "docs/plugins.md:\(line)")
            #expect(problem == nil, "docs/plugins.md:\(line): \(problem ?? "")")
        }
    }

    @Test func theCompletePluginsInTheGuideLoad() throws {
        let plugins = try Self.examples().filter { $0.code.hasPrefix("return {") || $0.code.hasPrefix("-- plugins/") && $0.code.contains("\nreturn {") }
        #expect(plugins.count >= 4)
        for (line, code) in plugins where !code.hasPrefix("-- plugins/lib/") {
            // Named by its file: the name the example declares, if it does.
            let declared = code.firstMatch(of: /\bname = "([a-z][a-z0-9_-]*)"/).map { String($0.1) } ?? "guide"
            let fixture = PluginFixture(["\(declared).lua": Self.runnable(code)])
            let report = fixture.reload()
            #expect(report.succeeded, "docs/plugins.md:\(line): \(report.failed.map(\.message))")
        }
    }

    @Test func theSpecExampleInTheGuidePasses() async throws {
        let spec = try #require(try Self.examples().first { $0.code.hasPrefix("describe(\"moderation\"") })
        let directory = NSTemporaryDirectory() + "moonwire-guide-" + RandomID.token(length: 8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: Self.root.appendingPathComponent("plugins/moderation.lua").path, toPath: directory + "/moderation.lua")
        try spec.code.write(toFile: directory + "/moderation_test.lua", atomically: true, encoding: .utf8)
        let results = await PluginSpecRunner.run(PluginSpec(path: directory + "/moderation_test.lua"))
        #expect(results.count >= 2)
        for result in results { #expect(result.passed, "\(result.name): \(result.failure ?? "")") }
    }
}
