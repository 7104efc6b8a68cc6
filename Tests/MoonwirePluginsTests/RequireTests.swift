import Foundation
import Testing
@testable import MoonwirePlugins

/// `require` of the shared modules in the plugins directory's `lib/` folder.
@Suite struct RequireTests {
    static let textModule = """
        local M = {}
        function M.shout(s) return string.upper(s) .. "!" end
        M.loaded = (M.loaded or 0) + 1
        return M
        """

    @Test func twoPluginsShareAModuleAndAChangedModuleReloadsThem() async throws {
        let fixture = PluginFixture([
            "lib/text.lua": Self.textModule,
            "first.lua": """
                local text = require("text")
                local again = require("text")
                return { on_publish = function(ctx, event)
                  event.data.first = text.shout(event.data.message)
                  event.data.same = (text == again)
                  return event
                end }
                """,
            "second.lua": """
                local text = require("text")
                return { on_publish = function(ctx, event) event.data.second = text.shout("b") return event end }
                """,
        ])
        let report = fixture.reload()
        #expect(report.succeeded, "\(report.failed)")
        #expect(Set(report.loaded) == ["first", "second"], "lib/ is not a plugin")
        let alice = try await fixture.connect("alice")
        let bob = try await fixture.connect("bob")
        #expect(await fixture.send(alice, .message, data: ["message": "hi"]) == nil)
        let data = fixture.drain(bob).first { $0.type == .message }?.data
        #expect(data?["first"] == "HI!")
        #expect(data?["second"] == "B!")
        #expect(data?["same"] == true, "a module runs once per state")

        fixture.write("lib/text.lua", Self.textModule.replacingOccurrences(of: "\"!\"", with: "\"?\""))
        let changed = fixture.reload()
        #expect(Set(changed.reloaded) == ["first", "second"])
        #expect(await fixture.send(alice, .message, data: ["message": "hi"]) == nil)
        #expect(fixture.drain(bob).first { $0.type == .message }?.data["first"] == "HI?")
    }

    @Test func missingModulesCyclesAndBrokenModulesAreLoadErrors() {
        let cases: [([String: String], String)] = [
            (["x.lua": "require('nope') return {}"], "module 'nope' not found"),
            (["x.lua": "require('a') return {}", "lib/a.lua": "return require('b')", "lib/b.lua": "return require('a')"], "module 'a' requires itself"),
            (["x.lua": "require('bad') return {}", "lib/bad.lua": "return {"], "lib/bad.lua"),
            (["x.lua": "require(42) return {}"], "the module name must be a string"),
            (["x.lua": "return {}", "y.lua": "require('bad') return {}", "lib/bad.lua": "return {"], "lib/bad.lua"),
        ]
        for (files, expected) in cases {
            let fixture = PluginFixture(files)
            let report = fixture.reload()
            let message = report.failed.first?.message ?? "(loaded)"
            #expect(message.contains(expected), "\(files) -> \(message)")
            #expect(report.failed.count == 1, "only the plugin that asked for the module fails")
        }
    }
}
