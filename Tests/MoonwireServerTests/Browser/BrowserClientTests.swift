import Foundation
import Logging
import MoonwireClient
import MoonwireCore
import MoonwireServer
import ServiceLifecycle
import Testing

/// moonwire.js in a real headless Chromium, against a live hub: transports, fallback, publishing,
/// reconnecting and resuming.
@Suite(.serialized, .timeLimit(.minutes(3))) struct BrowserClientTests {
    func pageURL(_ live: LiveHub, _ query: String = "") -> String {
        "\(live.baseURL)/examples/client.html\(query.isEmpty ? "" : "?" + query)"
    }

    @Test func connectsOverWebSocketReceivesAndPublishes() async throws {
        let pages = try ClientPage.directory()
        try await withLiveHub({ $0.examplesDirectory = pages }) { live in
            try await withBrowser { driver in
                let page = try await driver.newSession()
                try await page.open(pageURL(live, "user=alice"))
                #expect(try await page.wait("connected", until: "window.__connected") == "websocket")
                try await live.publish("general", ["message": "from the API"])
                try await page.wait("message arrives", until: "window.__events.some(e => e.data.message === 'from the API')")
                let id = try await page.run("return window.hub.publish('general', 'message', {message: 'from the page'}).then(r => r.event_id);")
                #expect(EventID(id.stringValue ?? "") != nil)
                let history = try await live.http.request("GET", "/api/rooms/general/history")
                let stored = history.body?["events"]?.arrayValue?.last
                #expect(stored?["data"]?["message"] == "from the page")
                #expect(stored?["user_id"] == "alice")
                // The client's own message is handed to its handlers once, marked local.
                #expect(try await page.run("return window.__events.filter(e => e.data.message === 'from the page').length;") == 1)
                await page.close()
            }
        }
    }

    @Test(arguments: [(["sse", "longpoll"], "sse"), (["longpoll"], "longpoll")])
    func fallsBackWhenWebSocketIsBlocked(_ transports: [String], _ expected: String) async throws {
        let pages = try ClientPage.directory()
        try await withLiveHub({
            $0.examplesDirectory = pages
            $0.transports = transports
        }) { live in
            try await withBrowser { driver in
                let page = try await driver.newSession()
                try await page.open(pageURL(live, "user=bob"))
                #expect(try await page.wait("connected after fallback", timeout: .seconds(20), until: "window.__connected") == .string(expected))
                try await live.publish("general", ["message": "still reaches you"])
                try await page.wait("message over \(expected)", until: "window.__events.some(e => e.data.message === 'still reaches you')")
                let id = try await page.run("return window.hub.publish('general', 'message', {message: 'sent over \(expected)'}).then(r => r.event_id);")
                #expect(EventID(id.stringValue ?? "") != nil)
                let users = try await page.run("return window.hub.presence('general').then(users => users.map(u => u.user_id));")
                #expect(users.arrayValue?.contains("bob") == true)
                await page.close()
            }
        }
    }

    @Test(arguments: ["websocket", "sse", "longpoll"])
    func reconnectsAfterAHubRestartAndGetsWhatItMissedExactlyOnce(_ transport: String) async throws {
        let pages = try ClientPage.directory()
        try await withRestartableHub({ $0.examplesDirectory = pages }) { restartable in
            try await withBrowser { driver in
                let page = try await driver.newSession()
                try await page.open("\(restartable.baseURL)/examples/client.html?user=carol&transport=\(transport)")
                try await page.wait("connected", timeout: .seconds(15), until: "window.__connected")
                try await restartable.live.publish("general", ["message": "before"])
                try await page.wait("first message", until: "window.__events.some(e => e.data.message === 'before')")

                try await restartable.stop()
                try await page.wait("client notices", until: "window.__statuses.some(s => s.state === 'reconnecting')")
                try await restartable.start()
                for text in ["while-away-1", "while-away-2", "while-away-3"] {
                    try await restartable.live.publish("general", ["message": .string(text)])
                }
                try await page.wait(
                    "missed messages", timeout: .seconds(20),
                    until: "window.__events.filter(e => e.data.message.startsWith('while-away')).length >= 3")
                try await restartable.live.publish("general", ["message": "after"])
                try await page.wait("live again", until: "window.__events.some(e => e.data.message === 'after')")
                let texts = try await page.run("return window.__events.map(e => e.data.message);")
                #expect(texts == ["before", "while-away-1", "while-away-2", "while-away-3", "after"])
                // The new hub has no history from before the restart: the client was told.
                #expect(try await page.run("return window.__gaps.length;").intValue ?? 0 >= 1)
                await page.close()
            }
        }
    }
}
