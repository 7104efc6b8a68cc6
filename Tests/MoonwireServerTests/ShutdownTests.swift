import MoonwireClient
import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct ShutdownTests {
    @Test func gracefulShutdownTellsEveryClientAndAnswersWaitingPolls() async throws {
        // The poll's 30 s timeout is on a manual clock that never moves: only the shutdown can answer it.
        try await withLiveHub(clock: ManualClock()) { live in
            let alice = try await live.connect("alice")
            let stream = try await live.stream("/events")
            _ = try await stream.next(event: "notification")
            let poll = Task { try await live.http.request("GET", "/poll?client_id=p1&timeout=30&last_message_id=\(EventID.now())") }
            try await live.eventually("poll waiting") { live.hub.statistics.snapshot().pollWaiting == 1 }

            await live.serviceGroup.triggerGracefulShutdown()

            await alice.session.waitUntilClosed()
            #expect(alice.session.closeCode?.code == 1001)
            let goodbye = try await stream.next(event: "disconnect")
            #expect(goodbye.json?["code"]?.stringValue == "shutdown")
            try await stream.inbox.waitUntilFinished()
            let reply = try await poll.value
            #expect(reply.status == 200)
        }
    }
}
