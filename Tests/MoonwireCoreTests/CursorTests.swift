import Testing
@testable import MoonwireCore

@Suite struct CursorTests {
    @Test func plainIDAppliesToEveryRoom() throws {
        let cursor = try #require(Cursor(parsing: "1795958102781321"))
        #expect(cursor.position(for: "general") == EventID(1_795_958_102_781_321))
        #expect(cursor.position(for: "news") == EventID(1_795_958_102_781_321))
    }

    @Test func compositeCursorNamesEachRoom() throws {
        let cursor = try #require(Cursor(parsing: "general:10,news:20"))
        #expect(cursor.position(for: "general") == EventID(10))
        #expect(cursor.position(for: "news") == EventID(20))
        #expect(cursor.position(for: "other") == nil)
        #expect(cursor.encoded(for: ["general", "news"]) == "general:10,news:20")
        #expect(cursor.encoded(for: ["news"]) == "20")
    }

    @Test(arguments: ["", "  ", "abc", "general:", ":5", "general:x", "bad room:5", "-5", "12345678901234567890"])
    func malformedCursorsAreRejected(_ text: String) {
        #expect(Cursor(parsing: text) == nil)
    }

    @Test func settingKeepsOrder() {
        var cursor = Cursor()
        cursor.set("b", EventID(2))
        cursor.set("a", EventID(1))
        cursor.set("b", EventID(3))
        #expect(cursor.encoded(for: ["a", "b"]) == "a:1,b:3")
        #expect(cursor.positions.map(\.room) == ["b", "a"])
    }
}

@Suite struct EventIDTests {
    @Test func idsStrictlyIncreaseEvenWithinOneMicrosecond() {
        var previous = EventID.now()
        for _ in 0..<10_000 {
            let next = EventID.next(after: previous)
            #expect(next > previous)
            previous = next
        }
    }

    @Test func idsStayBelowJavaScriptsExactIntegerLimit() {
        #expect(EventID.now().value < 9_007_199_254_740_991)
    }

    @Test func parsingAcceptsOnlyDecimalDigits() {
        #expect(EventID("123") == EventID(123))
        #expect(EventID("12a") == nil)
        #expect(EventID("") == nil)
        #expect(EventID("+1") == nil)
    }
}

@Suite struct RoomNameTests {
    @Test(arguments: ["general", "a", "team-1", "user@example.com", "org/team.chat", "x~y+z"])
    func acceptsValidNames(_ name: String) {
        #expect(RoomName.validate(name) == nil)
    }

    @Test(arguments: ["", "has space", "a,b", "a:b", "é", String(repeating: "x", count: 129)])
    func rejectsInvalidNames(_ name: String) {
        #expect(RoomName.validate(name)?.code == .invalidRoom)
    }
}
