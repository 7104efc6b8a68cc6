import Foundation
import MoonwireCore
import Testing
@testable import MoonwirePlugins

/// `moonwire plugins test`: spec files run against a hub in process; failures name the spec's line;
/// spec files are never loaded as plugins.
@Suite struct PluginSpecTests {
    static let plugin = """
        return {
          config = { word = { type = "string", default = "spam" } },
          on_publish = function(ctx, event)
            if event.data.message == hub.config.word then return false, "no " .. hub.config.word end
            hub.store.incr("seen")
            return nil
          end,
          on_load = function() hub.every(10, function() hub.publish("general", "tick", { at = hub.now() }) end, "tick") end }
        """

    func write(_ files: [String: String]) throws -> String {
        let directory = NSTemporaryDirectory() + "moonwire-specs-" + RandomID.token(length: 8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
        return directory
    }

    @Test func passingAndFailingTestsAreReportedWithTheSpecsLine() async throws {
        let directory = try write([
            "filter.lua": Self.plugin,
            "filter_test.lua": """
                describe("filter", function()
                  local hub, a, b
                  before_each(function()
                    hub = test.hub { settings = { filter = { word = "eggs" } } }
                    a, b = hub:connect("a"), hub:connect("b")
                  end)
                  it("refuses the word", function()
                    local _, code, message = a:say("eggs")
                    expect(code).to.equal("rejected")
                    expect(message).to.equal("no eggs")
                  end)
                  it("counts and ticks", function()
                    a:say("ham")
                    expect(hub:store("filter", "seen")).to.equal(1)
                    expect(b:received("message")[1].data.message).to.equal("ham")
                    hub:advance(10)
                    expect(b:received("tick")).to.have_length(1)
                  end)
                  it("fails where it says", function()
                    expect(a:say("ham")).never.to.be_truthy()
                  end)
                end)
                """,
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let results = await PluginSpecRunner.run(PluginSpec(path: directory + "/filter_test.lua"))
        #expect(results.map(\.name) == ["filter › refuses the word", "filter › counts and ticks", "filter › fails where it says"])
        #expect(results[0].passed, "\(results[0].failure ?? "")")
        #expect(results[1].passed, "\(results[1].failure ?? "")")
        let failure = try #require(results[2].failure)
        #expect(failure.hasPrefix(directory + "/filter_test.lua:20: not: expected a true value"), "\(failure)")

        let junit = PluginSpecReport(results: results).junit
        #expect(junit.contains("<testsuite name=\"\(directory)/filter_test.lua\" tests=\"3\" failures=\"1\""))
        #expect(junit.contains("<failure message=\"\(directory)/filter_test.lua:20: not: expected a true value"))
    }

    @Test func aSpecFileIsNotAPluginAndBrokenSpecsSayWhy() async throws {
        let directory = try write([
            "filter.lua": Self.plugin,
            "filter_test.lua": "describe('x', function() it('y', function() end) end)",
            "empty_test.lua": "-- nothing here",
            "broken_test.lua": "describe('x', function(",
            "other_test.lua": "describe('x', function() it('loads a plugin that is not there', function() test.hub() end) end)",
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(PluginSource.scan(directory: directory).sources.map(\.fileName) == ["filter"])
        let (specs, errors) = PluginSpec.find([directory, directory + "/filter.lua"])
        #expect(specs.map(\.pluginName) == ["broken", "empty", "filter", "other"])
        #expect(errors.count == 1)
        #expect(await PluginSpecRunner.run(specs[0]).first?.failure?.contains("broken_test.lua:1:") == true)
        #expect(await PluginSpecRunner.run(specs[1]).first?.failure?.contains("has no tests") == true)
        #expect(await PluginSpecRunner.run(specs[2]).first?.passed == true)
        #expect(await PluginSpecRunner.run(specs[3]).first?.failure?.contains("no plugin named 'other'") == true)
    }
}
