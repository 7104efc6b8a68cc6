import MoonwireCore
import Testing

@Suite struct RecentEventsTests {
    @Test func keepsTheLastEventsInOrderWithASequence() {
        let recent = RecentEvents(capacity: 3)
        for i in 1...5 {
            recent.record(Event(type: .message, userID: "u\(i)", roomID: "general", data: [:]))
        }
        #expect(recent.entries().map(\.userID) == ["u3", "u4", "u5"])
        #expect(recent.entries().map(\.sequence) == [3, 4, 5])
        #expect(recent.entries(after: 4).map(\.userID) == ["u5"])
    }
}
