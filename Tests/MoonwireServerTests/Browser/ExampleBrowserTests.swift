import Foundation
import MoonwireClient
import MoonwireCore
import Testing

/// The three examples, in a real headless Chromium, each against a hub started with its own configuration.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ExampleBrowserTests {
    @Test func twoBrowsersChatThroughTheChatExample() async throws {
        try await withExampleHub("chat") { live in
            try await withBrowser { driver in
                let alice = try await driver.newSession()
                let bob = try await driver.newSession(width: 390, height: 844)
                try await alice.open("\(live.baseURL)/examples/chat/?user=alice")
                try await bob.open("\(live.baseURL)/examples/chat/?user=bob")
                for page in [alice, bob] {
                    try await page.wait("connected", timeout: .seconds(15), until: "document.querySelector('#status')?.dataset.state === 'open'")
                }
                // Both are present in general.
                try await alice.wait("bob in the presence list", until: "document.querySelector('#presence .user[data-user=\"bob\"]')")
                try await bob.wait("alice in the presence list", until: "document.querySelector('#presence .user[data-user=\"alice\"]')")

                // Typing shows on the other side.
                try await alice.run("""
                    const box = document.querySelector('#text');
                    box.focus();
                    box.value = 'hel';
                    box.dispatchEvent(new Event('input', { bubbles: true }));
                    """)
                try await bob.wait("typing indicator", until: "(document.querySelector('#typing')?.dataset.users || '').includes('alice')")

                // A message goes across, and the answer comes back.
                try await alice.run("""
                    document.querySelector('#text').value = 'hello bob';
                    document.querySelector('#send').click();
                    """)
                try await bob.wait(
                    "alice's message", until: "[...document.querySelectorAll('#messages .message[data-user=\"alice\"] .text')].some(t => t.textContent === 'hello bob')")
                try await bob.run("""
                    document.querySelector('#text').value = 'hi alice';
                    document.querySelector('#send').click();
                    """)
                try await alice.wait(
                    "bob's answer", until: "[...document.querySelectorAll('#messages .message[data-user=\"bob\"] .text')].some(t => t.textContent === 'hi alice')")
                // Each sees each message once, in order.
                let aliceSees = try await alice.run("return [...document.querySelectorAll('#messages .message .text')].map(t => t.textContent);")
                #expect(aliceSees == ["hello bob", "hi alice"])

                // The moderation plugin is on: a banned word is refused with the reason shown.
                try await bob.run("""
                    document.querySelector('#text').value = 'buy this spam now';
                    document.querySelector('#send').click();
                    """)
                try await bob.wait("refusal shown", until: "document.querySelector('#notice')?.dataset.code === 'rejected'")
                #expect(try await alice.run("return document.querySelectorAll('#messages .message').length;") == 2)

                // History on join: a third user joining later sees the conversation.
                let carol = try await driver.newSession()
                try await carol.open("\(live.baseURL)/examples/chat/?user=carol")
                try await carol.wait("history", until: "document.querySelectorAll('#messages .message').length === 2")
                try FileManager.default.createDirectory(atPath: NSTemporaryDirectory() + "moonwire-screens", withIntermediateDirectories: true)
                try await alice.screenshot().write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "moonwire-screens/chat-alice.png"))
                for page in [alice, bob, carol] { await page.close() }
            }
        }
    }

    @Test func theDashboardUpdatesLive() async throws {
        try await withExampleHub("dashboard", { $0.pluginSettings["dashboard"]?["interval"] = 0.2 }) { live in
            try await withBrowser { driver in
                let page = try await driver.newSession()
                try await page.open("\(live.baseURL)/examples/dashboard/")
                try await page.wait("connected over SSE", timeout: .seconds(15), until: "document.querySelector('#status')?.dataset.transport === 'sse' && document.querySelector('#status')?.dataset.state === 'open'")
                let first = try await page.wait("samples", until: "Number(document.querySelector('#samples')?.dataset.count) >= 2").intValue ?? 0
                // Traffic shows up in the numbers.
                let alice = try await live.connect("alice")
                try await page.wait(
                    "a WebSocket connection counted", timeout: .seconds(10),
                    until: "document.querySelector('[data-metric=\"connections.websocket\"]')?.textContent.trim() === '1'")
                try await page.wait("more samples", until: "Number(document.querySelector('#samples').dataset.count) > \(first + 3)")
                await alice.close()
                await page.close()
            }
        }
    }

    @Test func notificationsArriveOverLongPollForTheirUserOnly() async throws {
        try await withExampleHub("notifications") { live in
            try await withBrowser { driver in
                let alice = try await driver.newSession()
                let bob = try await driver.newSession()
                try await alice.open("\(live.baseURL)/examples/notifications/?token=alice-token")
                try await bob.open("\(live.baseURL)/examples/notifications/?token=bob-token")
                for page in [alice, bob] {
                    try await page.wait(
                        "signed in over long-poll", timeout: .seconds(15),
                        until: "document.querySelector('#status')?.dataset.transport === 'longpoll' && document.querySelector('#status')?.dataset.state === 'open'")
                }
                let api = HubHTTPClient(baseURL: live.baseURL, headers: [("X-API-Key", "demo-key")])
                let sent = try await api.request(
                    "POST", "/api/publish",
                    json: ["room": "user-alice", "event_type": "notification", "data": ["title": "Export ready", "body": "Your file is waiting"]])
                #expect(sent.status == 200)
                try await alice.wait(
                    "notification shown", until: "[...document.querySelectorAll('#notifications .notification .title')].some(t => t.textContent === 'Export ready')")
                #expect(try await alice.wait("unread badge", until: "document.querySelector('#unread')?.dataset.count") == "1")
                // Bob's page polls too, but not alice's room.
                try await Task.sleep(for: .seconds(1))
                #expect(try await bob.run("return document.querySelectorAll('#notifications .notification').length;") == 0)
                // Bob cannot open alice's room: the private_rooms plugin refuses it.
                let peek = try await live.http.request("GET", "/poll?rooms=user-alice&timeout=0", headers: [("Authorization", "Bearer bob-token")])
                #expect(peek.status == 403)
                for page in [alice, bob] { await page.close() }
            }
        }
    }
}
