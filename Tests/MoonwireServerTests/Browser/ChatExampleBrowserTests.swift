import Foundation
import MoonwireClient
import MoonwireCore
import Testing

/// The chat example as people use it all day, in a real headless Chromium: presence that tells the truth,
/// a phone layout that holds, honest offline states, and the features chat users expect.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ChatExampleBrowserTests {
    /// The longest names the example allows: a 32-character user, a 64-character room.
    static let longUser = "abcdefghijklmnopqrstuvwxyz012345"
    static let longRoom = "a-very-long-room-name-that-goes-on-and-on-for-sixty-four-chars.x"

    @Test(arguments: ["websocket", "sse", "longpoll"])
    func presenceDropsSoonAfterATabGoesAwayOrSignsOut(_ transport: String) async throws {
        try await withExampleHub("chat") { live in
            try await withBrowser { driver in
                let bob = try await driver.newSession()
                try await bob.open("\(live.baseURL)/examples/chat/?user=bob")
                let alice = try await driver.newSession()
                try await alice.open("\(live.baseURL)/examples/chat/?user=alice&transport=\(transport)")
                try await alice.wait("alice connected", timeout: .seconds(15), until: isOpen(transport))
                try await bob.wait("alice present", until: present("alice"))

                // Navigating away to another page of the site (the chat may sit in the back/forward cache): gone
                // well before any timeout (heartbeat 60 s, long-poll session 45 s) could have noticed.
                try await alice.open("\(live.baseURL)/examples/")
                try await bob.wait("alice gone after navigating away", timeout: .seconds(10), until: "!(\(present("alice")))")

                // Back (from the cache, or loaded again): present again. Then signing out: gone again.
                try await alice.run("history.back();")
                try await alice.wait("alice back", timeout: .seconds(15), until: "location.pathname === '/examples/chat/' && (\(isOpen(transport)))")
                try await bob.wait("alice present again", until: present("alice"))
                try await alice.run("document.querySelector('#signout').click();")
                try await bob.wait("alice gone after signing out", timeout: .seconds(10), until: "!(\(present("alice")))")
                for page in [alice, bob] { await page.close() }
            }
        }
    }

    @Test func thePhoneLayoutHoldsWithTheLongestNames() async throws {
        try await withExampleHub("chat") { live in
            try await withBrowser { driver in
                let phone = try await driver.newSession(width: 375, height: 740)
                try await phone.open("\(live.baseURL)/examples/chat/?user=\(Self.longUser)&room=\(Self.longRoom)")
                try await phone.wait("connected", timeout: .seconds(15), until: isOpen("websocket"))
                try await phone.run("""
                    const box = document.querySelector('#text');
                    box.value = 'x'.repeat(300);
                    document.querySelector('#send').click();
                    """)
                try await phone.wait("the long message", until: "document.querySelector('#messages .message.own:not(.pending)')")
                let overflow = try await phone.run(Self.overflowReport)
                #expect(overflow == [], "elements wider than the 375 px viewport: \(overflow)")
                #expect(try await phone.run("return document.documentElement.scrollWidth <= innerWidth;") == true)
                // The header keeps the whole "Sign out" and the user's own name.
                let header = try await phone.run("""
                    const out = document.querySelector('#signout'), me = document.querySelector('#me');
                    const a = out.getBoundingClientRect(), m = me.getBoundingClientRect();
                    return { signoutInside: a.left >= 0 && a.right <= innerWidth, signoutWhole: out.scrollWidth <= out.clientWidth + 1,
                             meShown: m.width > 0 && getComputedStyle(me).display !== 'none' && getComputedStyle(me).visibility !== 'hidden' };
                    """)
                #expect(header == ["signoutInside": true, "signoutWhole": true, "meShown": true], "\(header)")

                let desktop = try await driver.newSession(width: 1280, height: 800)
                try await desktop.open("\(live.baseURL)/examples/chat/?user=dora&room=\(Self.longRoom)")
                try await desktop.wait("connected", timeout: .seconds(15), until: isOpen("websocket"))
                let sidebar = try await desktop.run("""
                    const bar = document.querySelector('.sidebar');
                    const item = document.querySelector('#rooms .room[data-room="\(Self.longRoom)"]');
                    const leave = item.querySelector('.leave').getBoundingClientRect();
                    const name = item.querySelector('.room-name');
                    return { noScroll: bar.scrollWidth <= bar.clientWidth, leaveInside: leave.right <= bar.getBoundingClientRect().right,
                             ellipsis: [...name.querySelectorAll('*'), name].some(e => getComputedStyle(e).textOverflow === 'ellipsis') };
                    """)
                #expect(sidebar == ["noScroll": true, "leaveInside": true, "ellipsis": true], "\(sidebar)")
                for page in [phone, desktop] { await page.close() }
            }
        }
    }

    @Test func anOfflineChatSaysSoAndSendsWhatWasTypedOnceOnReconnect() async throws {
        let configuration = try exampleConfiguration("chat")
        defer { removeExampleHistory(configuration) }
        try await withRestartableHub(configuration) { hub in
            try await withBrowser { driver in
                let (alice, bob) = try await openPair(driver, hub.baseURL)
                try await alice.wait("bob present", until: present("bob"))
                try await send(alice, "before the cut")
                try await bob.wait("the first message", until: "\(texts("alice")).includes('before the cut')")

                try await hub.stop()
                // Offline, and it shows: a banner counting down, no live presence, the box still usable.
                try await alice.wait(
                    "the offline banner",
                    until: "!document.querySelector('#offline').hidden && document.querySelector('#chat').dataset.online !== 'true'")
                let seconds = try await alice.wait("a countdown", until: "document.querySelector('#offline').dataset.seconds")
                try await alice.wait("the countdown to move", until: "document.querySelector('#offline').dataset.seconds !== '\(seconds.stringValue ?? "")'")
                try await alice.wait("presence marked stale", until: "document.querySelector('#presence .user.stale')")
                #expect(try await alice.run("return document.querySelector('#text').disabled;") == false)
                try await send(alice, "typed offline 1")
                try await send(alice, "typed offline 2")
                try await alice.wait("two pending messages", until: "document.querySelectorAll('#messages .message.pending').length === 2")

                try await hub.start()
                // Each arrives once, in order, and nothing is reported missing: the history survived (SQLite).
                let expected = "['before the cut','typed offline 1','typed offline 2']"
                try await bob.wait("the queued messages, once", timeout: .seconds(30), until: "JSON.stringify(\(texts("alice"))) === JSON.stringify(\(expected))")
                try await alice.wait("nothing pending", timeout: .seconds(30), until: "document.querySelectorAll('#messages .message.pending').length === 0 && document.querySelector('#offline').hidden")
                try await Task.sleep(for: .seconds(1))  // a duplicate would have arrived by now
                #expect(try await bob.run("return \(texts("alice"));") == ["before the cut", "typed offline 1", "typed offline 2"])
                #expect(try await alice.run("return \(texts("alice"));") == ["before the cut", "typed offline 1", "typed offline 2"])
                for (name, page) in [("alice", alice), ("bob", bob)] {
                    let gaps = try await page.run("return [...document.querySelectorAll('#messages .system.gap')].map(g => g.outerHTML);")
                    #expect(gaps == [], "no false 'missing messages' notice for \(name)")
                }
                for page in [alice, bob] { await page.close() }
            }
        }
    }

    @Test func aReloadKeepsTheSignInAndTheRoomsAndNewRoomsAreOfferedLive() async throws {
        try await withExampleHub("chat") { live in
            try await withBrowser { driver in
                let alice = try await driver.newSession()
                let bob = try await driver.newSession()
                try await alice.open("\(live.baseURL)/examples/chat/")
                try await alice.run("document.querySelector('#name').value = 'alice'; document.querySelector('#join').click();")
                try await bob.open("\(live.baseURL)/examples/chat/?user=bob")
                for page in [alice, bob] { try await page.wait("connected", timeout: .seconds(15), until: isOpen("websocket")) }

                // bob opens a room: alice is offered it without reloading.
                try await bob.run("""
                    const box = document.querySelector('#new-room');
                    box.value = 'design';
                    box.form.requestSubmit();
                    """)
                try await alice.wait("design offered", until: "document.querySelector('#rooms .room[data-room=\"design\"][data-joined=\"false\"]')")
                try await alice.run("document.querySelector('#rooms .room[data-room=\"design\"] .room-name').click();")
                try await alice.wait("design joined", until: "document.querySelector('#rooms .room[data-room=\"design\"][data-joined=\"true\"]')")
                // bob sees alice come in, as a line in the conversation.
                try await bob.wait("'alice joined'", until: "[...document.querySelectorAll('#messages .system.presence.joined')].some(l => (l.dataset.joined || '').split(',').includes('alice'))")

                // A reload: still alice, still in both rooms, no sign-in form.
                try await alice.open("\(live.baseURL)/examples/chat/")
                try await alice.wait("connected again", timeout: .seconds(15), until: isOpen("websocket"))
                #expect(try await alice.run("return document.querySelector('#signin').hidden;") == true)
                #expect(try await alice.run("return document.querySelector('#me').textContent;") == "alice")
                let rooms = try await alice.run("return [...document.querySelectorAll('#rooms .room[data-joined=\"true\"]')].map(r => r.dataset.room).sort();")
                #expect(rooms == ["design", "general"])
                for page in [alice, bob] { await page.close() }
            }
        }
    }

    @Test func rightToLeftTextLimitsAndDisguisedBannedWords() async throws {
        try await withExampleHub("chat") { live in
            try await withBrowser { driver in
                let (alice, bob) = try await openPair(driver, live.baseURL)

                try await send(alice, "مرحبا بالعالم")
                let direction = try await bob.wait(
                    "the Arabic message", until: "(() => { const t = [...document.querySelectorAll('#messages .message[data-user=\"alice\"] .text')].find(t => t.textContent === 'مرحبا بالعالم'); return t && getComputedStyle(t).direction; })()")
                #expect(direction == "rtl")

                // Links become links (http and https only, opening apart), lines stay lines, markup stays text.
                try await send(alice, "see https://example.com/a?b=1.\nsecond line <b>bold</b> javascript:alert(1)")
                let rendered = try await bob.wait(
                    "the link message",
                    until: "(() => { const t = [...document.querySelectorAll('#messages .message[data-user=\"alice\"] .text')].find(t => t.textContent.startsWith('see ')); if (!t) return null; const a = [...t.querySelectorAll('a')]; return { text: t.textContent, links: a.map(l => l.getAttribute('href')), rel: a[0]?.rel, target: a[0]?.target, bold: t.querySelectorAll('b').length, lines: t.getClientRects().length > 0 && getComputedStyle(t).whiteSpace }; })()")
                #expect(rendered["text"]?.stringValue == "see https://example.com/a?b=1.\nsecond line <b>bold</b> javascript:alert(1)")
                #expect(rendered["links"] == ["https://example.com/a?b=1"])
                #expect(rendered["rel"]?.stringValue?.contains("noopener") == true)
                #expect(rendered["target"] == "_blank")
                #expect(rendered["bold"] == 0)
                #expect(["pre-wrap", "pre-line", "break-spaces"].contains(rendered["lines"]?.stringValue ?? ""))

                // The moderation plugin reads through spacing, width and invisible characters.
                for disguised in ["s p a m", "ｓｐａｍ", "sp\u{200B}am", "S.P.A.M!"] {
                    try await alice.run("const n = document.querySelector('#notice'); n.hidden = true; n.dataset.code = '';")
                    try await send(alice, disguised)
                    try await alice.wait("'\(disguised)' refused", until: "!document.querySelector('#notice').hidden && document.querySelector('#notice').dataset.code === 'rejected'")
                }
                // Over the length limit: a counter, a refusal by the page itself, and the text kept.
                let long = String(repeating: "y", count: 1001)
                try await alice.run("""
                    const box = document.querySelector('#text');
                    box.value = '\(long)';
                    box.dispatchEvent(new Event('input', { bubbles: true }));
                    document.querySelector('#notice').hidden = true;
                    document.querySelector('#send').click();
                    """)
                try await alice.wait("the counter says over", until: "document.querySelector('#counter')?.dataset.state === 'over'")
                try await alice.wait("too long", until: "document.querySelector('#notice').dataset.code === 'too_long'")
                #expect(try await alice.run("return document.querySelector('#text').value.length;") == 1001)
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await bob.run("return \(texts("alice")).length;") == 2, "the Arabic and the link message, nothing refused")
                for page in [alice, bob] { await page.close() }
            }
        }
    }

    @Test func reactionsEditsDeletesAndOlderMessages() async throws {
        try await withExampleHub("chat", { $0.pluginSettings["moderation"]?["rate_limit"] = 0 }) { live in
            // More history than a join replays (50).
            for i in 1...70 { _ = try await live.publish("general", ["message": .string("old \(i)")], user: "archie") }
            try await withBrowser { driver in
                let (alice, bob) = try await openPair(driver, live.baseURL)

                // Load older: the rest of the history, once each, in order, under a date separator.
                try await bob.wait("the replay", until: "\(texts("archie")).length === 50")
                try await bob.run("document.querySelector('.load-older button').click();")
                try await bob.wait("all 70", until: "\(texts("archie")).length === 70")
                #expect(try await bob.run("return \(texts("archie"));") == .array((1...70).map { .string("old \($0)") }))
                #expect((try await bob.run("return document.querySelectorAll('#messages .date-separator').length;").intValue ?? 0) >= 1)

                try await send(alice, "lunch at 12?")
                let id = try await bob.wait(
                    "alice's message", until: "[...document.querySelectorAll('#messages .message[data-user=\"alice\"]')].find(m => m.querySelector('.text').textContent === 'lunch at 12?')?.dataset.id")
                let message = "document.querySelector('#messages .message[data-id=\"\(id.stringValue ?? "")\"]')"

                // bob reacts; alice sees the count; bob's second click takes it back.
                try await bob.run("\(message).querySelector('.reaction-add[data-emoji=\"👍\"]').click();")
                try await alice.wait("a 👍", until: "\(message)?.querySelector('.reaction[data-emoji=\"👍\"]')?.dataset.count === '1'")
                try await bob.wait("bob's own 👍 marked", until: "\(message)?.querySelector('.reaction[data-emoji=\"👍\"].mine')")
                try await bob.run("\(message).querySelector('.reaction-add[data-emoji=\"👍\"]').click();")
                try await alice.wait("the 👍 taken back", until: "!\(message)?.querySelector('.reaction[data-emoji=\"👍\"]') || \(message).querySelector('.reaction[data-emoji=\"👍\"]').dataset.count === '0'")

                // alice edits, then deletes, her message; bob sees both. bob has no edit on it.
                #expect(try await bob.run("return !!\(message).querySelector('.msg-edit');") == false)
                try await alice.run("\(message).querySelector('.msg-edit').click();")
                try await alice.wait("editing", until: "!document.querySelector('#editing').hidden")
                try await alice.run("document.querySelector('#text').value = 'lunch at 1?'; document.querySelector('#send').click();")
                try await bob.wait("the edit", until: "\(message)?.classList.contains('edited') && \(message).querySelector('.text').textContent === 'lunch at 1?'")
                try await alice.run("\(message).querySelector('.msg-delete').click();")
                try await alice.run("\(message).querySelector('.msg-delete').click();")
                try await bob.wait("the delete", until: "\(message)?.classList.contains('deleted') && \(message).querySelector('.text').textContent === 'message deleted'")
                for page in [alice, bob] { await page.close() }
            }
        }
    }

    // MARK: helpers

    /// alice and bob, each in a browser of their own, connected over WebSocket.
    private func openPair(_ driver: WebDriver, _ baseURL: String) async throws -> (BrowserSession, BrowserSession) {
        var pages: [BrowserSession] = []
        for user in ["alice", "bob"] {
            let page = try await driver.newSession()
            try await page.open("\(baseURL)/examples/chat/?user=\(user)")
            try await page.wait("\(user) connected", timeout: .seconds(15), until: isOpen("websocket"))
            pages.append(page)
        }
        return (pages[0], pages[1])
    }

    private func isOpen(_ transport: String) -> String {
        "document.querySelector('#status')?.dataset.state === 'open' && document.querySelector('#status')?.dataset.transport === '\(transport)'"
    }

    private func present(_ user: String) -> String {
        "!!document.querySelector('#presence .user[data-user=\"\(user)\"]:not(.stale)')"
    }

    /// The texts of `user`'s accepted messages in the open room, in order.
    private func texts(_ user: String) -> String {
        "[...document.querySelectorAll('#messages .message[data-user=\"\(user)\"]:not(.pending) .text')].map(t => t.textContent)"
    }

    private func send(_ page: BrowserSession, _ text: String) async throws {
        try await page.run(
            "const box = document.querySelector('#text'); box.value = arguments[0]; document.querySelector('#send').click();", [.string(text)])
    }

    /// Elements wider than the viewport, or reaching past its right edge outside a sideways-scrolling strip.
    static let overflowReport = """
        const out = [];
        for (const e of document.querySelectorAll('body *')) {
          const r = e.getBoundingClientRect();
          if (r.width === 0 && r.height === 0) continue;
          let strip = false;
          for (let p = e.parentElement; p; p = p.parentElement) {
            const o = getComputedStyle(p).overflowX;
            if (o === 'auto' || o === 'scroll' || o === 'hidden') { strip = true; break; }
          }
          if (r.width > innerWidth + 1 || (!strip && r.right > innerWidth + 1)) out.push((e.id ? '#' + e.id : e.className || e.tagName) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
          if (out.length > 10) break;
        }
        return out;
        """
}
