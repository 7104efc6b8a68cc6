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
                // What alice publishes shows in the live event log (without its data), her room in the rooms table,
                // and the hub's memory and publish latency beside the throughput.
                _ = try await alice.sayAnswered("hello dashboard")
                try await page.wait(
                    "alice's message in the event log",
                    until: "[...document.querySelectorAll('#event-log li[data-type=\"message\"]')].some(li => li.querySelector('.user')?.textContent.includes('alice') && li.querySelector('.room')?.textContent.includes('general'))")
                #expect(try await page.run("return document.querySelector('#event-log').textContent.includes('hello dashboard');") == false)
                try await page.wait("general in the rooms table", until: "document.querySelector('#rooms-table tbody tr[data-room=\"general\"]')?.dataset.users === '1'")
                let memory = try await page.wait(
                    "memory shown", until: "Number(document.querySelector('[data-metric=\"memory.rss\"]')?.textContent) > 0 && document.querySelector('[data-metric=\"memory.rss\"]').textContent")
                #expect(memory.stringValue != nil)
                try await page.wait("publish latency shown", until: "/^[0-9.]+$/.test(document.querySelector('[data-metric=\"latency.p99\"]')?.textContent.trim() || '') && document.querySelector('#card-latency')?.dataset.available === 'true'")
                await alice.close()
                await page.close()
            }
        }
    }

    @Test func anOfflineDashboardSaysSoAndComesBack() async throws {
        var configuration = try exampleConfiguration("dashboard")
        configuration.pluginSettings["dashboard"]?["interval"] = 0.2
        try await withRestartableHub(configuration) { restartable in
            try await withBrowser { driver in
                let page = try await driver.newSession(width: 375, height: 740)
                try await page.open("\(restartable.baseURL)/examples/dashboard/")
                try await page.wait("live", timeout: .seconds(15), until: "document.querySelector('#status')?.dataset.state === 'open' && Number(document.querySelector('#samples')?.dataset.count) >= 2")
                #expect(try await page.run("return document.querySelector('#offline').hidden;") == true)
                // The longest names the hub allows, in the event log and the rooms table of a phone.
                let user = ChatExampleBrowserTests.longUser, room = ChatExampleBrowserTests.longRoom
                let probe = try await restartable.live.connect(user, extra: ["rooms": [.string(room)]])
                _ = try await restartable.live.publish(room, ["message": "hi"], user: user)
                try await page.wait("the long room in the log and the table", until: "document.querySelector('#rooms-table tbody tr[data-room=\"\(room)\"]') && [...document.querySelectorAll('#event-log li')].some(li => li.textContent.includes('\(user)'))")
                let overflow = try await page.run(ChatExampleBrowserTests.overflowReport)
                #expect(overflow == [], "elements wider than the 375 px viewport: \(overflow)")
                #expect(try await page.run("return document.documentElement.scrollWidth <= innerWidth;") == true, "no sideways scrolling on a phone")
                await probe.close()
                try await restartable.stop()
                try await page.wait("the offline banner", until: "!document.querySelector('#offline').hidden && document.querySelector('main#main').dataset.stale === 'true'")
                // The countdown moves.
                let before = try await page.wait("a countdown", until: "document.querySelector('#offline').dataset.seconds !== '' && document.querySelector('#offline').dataset.seconds")
                try await page.wait("the countdown to change", until: "document.querySelector('#offline').dataset.seconds !== '\(before.stringValue ?? "")'")
                try await restartable.start()
                try await page.wait("live again", timeout: .seconds(30), until: "document.querySelector('#status')?.dataset.state === 'open' && document.querySelector('#offline').hidden && document.querySelector('main#main').dataset.stale !== 'true'")
                await page.close()
            }
        }
    }

    @Test func theLandingPageAndTheExamplesIndexLinkEveryExample() async throws {
        try await withExampleHub("chat") { live in
            try await withBrowser { driver in
                let page = try await driver.newSession(width: 375, height: 740)
                for path in ["/", "/examples/"] {
                    try await page.open(live.baseURL + path)
                    let links = try await page.wait(
                        "links to the examples on \(path)",
                        until: "(() => { const l = [...document.querySelectorAll('a')].map(a => new URL(a.href).pathname); return ['/examples/chat/', '/examples/dashboard/', '/examples/notifications/'].every(p => l.includes(p)) && l.length; })()")
                    #expect((links.intValue ?? 0) >= 3)
                    #expect(try await page.run("return document.documentElement.scrollWidth <= innerWidth;") == true, "\(path) fits a phone")
                }
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
                // Sending from the page to a user nobody is signed in as says so, instead of "Sent".
                try await bob.run("""
                    document.querySelector('#send-to').value = 'nosuchuser';
                    document.querySelector('#send-title').value = 'Anyone there?';
                    document.querySelector('#api-key').value = 'demo-key';
                    document.querySelector('#send-notification').click();
                    """)
                try await bob.wait("a 'nobody is signed in' answer", until: "document.querySelector('#send-result')?.dataset.recipients === '0'")
                #expect(try await bob.run("return document.querySelector('#send-result').textContent;").stringValue?.contains("Nobody is signed in as nosuchuser") == true)
                try await bob.run("""
                    document.querySelector('#send-to').value = 'alice';
                    document.querySelector('#send-title').value = 'Lunch?';
                    document.querySelector('#send-notification').click();
                    """)
                try await bob.wait("delivered to alice's connection", until: "document.querySelector('#send-result')?.dataset.recipients === '1'")
                try await alice.wait("the notification", until: "[...document.querySelectorAll('#notifications .notification .title')].some(t => t.textContent === 'Lunch?')")
                for page in [alice, bob] { await page.close() }
            }
        }
    }
}
