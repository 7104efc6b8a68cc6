import Foundation
import MoonwireCore
import Testing
@testable import MoonwirePlugins

/// `moonwire plugins replay`: a room's history through the running version of a plugin and a candidate,
/// and where they differ.
@Suite struct PluginReplayTests {
    static func shipped(_ name: String) throws -> PluginSource {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try PluginSource.read(path: root.appendingPathComponent("plugins/\(name).lua").path)
    }

    static func message(_ id: Int64, _ user: String, _ text: String, at seconds: Double, data extra: JSONObject = [:]) -> Event {
        var data: JSONObject = ["message": .string(text)]
        for (key, value) in extra { data[key] = value }
        var event = Event(type: .message, userID: user, roomID: "general", data: .object(data))
        event.id = EventID(1_796_000_000_000_000 + id)
        event.timestamp = Timestamp(seconds: seconds)
        return event
    }

    @Test func aChangedWordListShowsWhichMessagesItWouldRefuse() async throws {
        let running = try Self.shipped("moderation")
        var candidate = running
        candidate = PluginSource(
            fileName: "moderation", path: "/tmp/candidate/moderation.lua",
            text: running.text.replacingOccurrences(
                of: "banned_words = { type = \"array\", default = {}", with: "banned_words = { type = \"array\", default = { \"scam\" }"))
        #expect(candidate.text != running.text)
        let events = [
            Self.message(1, "alice", "hello", at: 1000),
            Self.message(2, "bob", "what a SCAM", at: 1001),
            Self.message(3, "carol", "fine", at: 1002),
        ]
        let outcome = try await PluginReplay(pluginName: "moderation", running: running, candidate: candidate).run(events)
        #expect(outcome.events == 3)
        #expect(outcome.differences.count == 1)
        let difference = try #require(outcome.differences.first)
        #expect(difference.eventID == events[1].id?.description)
        #expect(difference.step == "on_publish")
        #expect(difference.running == "passed")
        #expect(difference.candidate == "rejected (rejected): message contains a banned word")
    }

    @Test func rateWindowsFollowTheEventsTimestampsAndDeliveryDifferencesArePerRole() async throws {
        // The running version limits to 2 messages per 10 s; the candidate to 3.
        let running = PluginSource(fileName: "limit", path: "plugins/limit.lua", text: """
            return {
              on_publish = function(ctx, event)
                if hub.store.incr("n:" .. ctx.user_id, 1, 10) > 2 then return false, "slow down", "rate_limited" end
              end,
              on_deliver = function(recipient, event)
                for _, r in ipairs(recipient.roles) do if r == "admin" then return nil end end
                if event.data.secret then return false end
              end }
            """)
        let candidate = PluginSource(fileName: "limit", path: "new/limit.lua", text: running.text
            .replacingOccurrences(of: "> 2", with: "> 3").replacingOccurrences(of: "return false end", with: "local c = hub.copy(event) c.data.secret = nil return c end"))
        let events = [
            Self.message(1, "alice", "a", at: 1000), Self.message(2, "alice", "b", at: 1001),
            Self.message(3, "alice", "c", at: 1002),  // third in 10 s: only the candidate lets it through
            Self.message(4, "alice", "d", at: 1020, data: ["secret": "x"]),  // a new window: both let it through
        ]
        let outcome = try await PluginReplay(pluginName: "limit", running: running, candidate: candidate, recipientRoles: [[], ["admin"]]).run(events)
        #expect(outcome.differences.map(\.step) == ["on_publish", "on_deliver (roles: none)"])
        #expect(outcome.differences[0].eventID == events[2].id?.description)
        #expect(outcome.differences[0].running == "rejected (rate_limited): slow down")
        #expect(outcome.differences[0].candidate == "passed")
        #expect(outcome.differences[1].eventID == events[3].id?.description)
        #expect(outcome.differences[1].running == "withheld")
        #expect(outcome.differences[1].candidate == "delivered changed: data = {\"message\":\"d\"}")
    }

    @Test func aCandidateThatDoesNotLoadIsAnError() async throws {
        let running = PluginSource(fileName: "x", path: "plugins/x.lua", text: "return {}")
        let broken = PluginSource(fileName: "x", path: "new/x.lua", text: "return {")
        await #expect(throws: PluginError.self) { try await PluginReplay(pluginName: "x", running: running, candidate: broken).run([]) }
    }
}
