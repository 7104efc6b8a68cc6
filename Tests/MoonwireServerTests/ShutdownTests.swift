import MoonwireClient
import MoonwireCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct ShutdownTests {
    @Test func gracefulShutdownTellsEveryClientAndAnswersWaitingPolls() async throws {
        try await withLiveHub { live in
            let alice = try await live.connect("alice")
            let stream = try await live.stream("/events")
            _ = try await stream.next(event: "notification")
            let poll = Task {
                let start = ContinuousClock.now
                let reply = try await live.http.request("GET", "/poll?client_id=p1&timeout=30&last_message_id=\(EventID.now())")
                return (reply, ContinuousClock.now - start)
            }
            try await live.eventually("poll waiting") { live.hub.statistics.snapshot().pollWaiting == 1 }

            await live.serviceGroup.triggerGracefulShutdown()

            await alice.session.waitUntilClosed()
            #expect(alice.session.closeCode?.code == 1001)
            let goodbye = try await stream.next(event: "disconnect")
            #expect(goodbye.json?["code"]?.stringValue == "shutdown")
            try await stream.inbox.waitUntilFinished()
            let (reply, waited) = try await poll.value
            #expect(reply.status == 200)
            #expect(waited < .seconds(10))
        }
    }
}
