import Testing
@testable import MoonwireCore

/// `JSONObject` at sizes where a linear key lookup would make building an object quadratic.
@Suite struct JSONObjectTests {
    @Test func aLargeObjectKeepsOrderAndFindsEveryKey() {
        var object = JSONObject()
        for i in 0..<20_000 { object["k\(i)"] = .int(Int64(i)) }
        #expect(object.count == 20_000)
        #expect(object.keys.prefix(3) == ["k0", "k1", "k2"])
        #expect(object["k0"] == .int(0))
        #expect(object["k19999"] == .int(19_999))
        #expect(object["missing"] == nil)
        // A later set replaces in place.
        object["k5"] = "five"
        #expect(object.count == 20_000)
        #expect(object.keys[5] == "k5")
        #expect(object["k5"] == "five")
    }

    @Test func removingKeysKeepsTheOthersReachable() {
        var object = JSONObject()
        for i in 0..<100 { object["k\(i)"] = .int(Int64(i)) }
        for i in stride(from: 0, to: 100, by: 3) { object["k\(i)"] = nil }
        #expect(object.count == 66)
        for i in 0..<100 {
            #expect(object["k\(i)"] == (i % 3 == 0 ? nil : .int(Int64(i))))
        }
        #expect(object.keys == (0..<100).filter { $0 % 3 != 0 }.map { "k\($0)" })
        // Below the index threshold again, and back above it.
        for i in 0..<100 where i % 3 != 0 && i > 10 { object["k\(i)"] = nil }
        #expect(object.count == 7)
        #expect(object["k10"] == .int(10))
        for i in 200..<230 { object["k\(i)"] = .int(Int64(i)) }
        #expect(object["k229"] == .int(229))
        #expect(object["k4"] == .int(4))
    }

    @Test func theParserKeepsTheLastValueOfADuplicateKeyAtAnySize() throws {
        // Past the index threshold: the duplicate must not be written twice.
        var text = "{"
        for i in 0..<50 { text += "\"k\(i)\":\(i)," }
        text += "\"k7\":\"last\",\"k49\":true}"
        let object = try #require(try JSONParser().parse(text).objectValue)
        #expect(object.count == 50)
        #expect(object["k7"] == "last")
        #expect(object["k49"] == true)
        #expect(object.keys[7] == "k7")
        let written = JSONWriter.string(.object(object))
        #expect(written.components(separatedBy: "\"k7\":").count == 2, "k7 is written once: \(written.prefix(80))")
        #expect(try JSONParser().parse(written) == .object(object))
    }

    @Test func equalityAndHashIgnoreOrderAndTheIndex() {
        var forward = JSONObject()
        var backward = JSONObject()
        for i in 0..<40 { forward["k\(i)"] = .int(Int64(i)) }
        for i in (0..<40).reversed() { backward["k\(i)"] = .int(Int64(i)) }
        #expect(forward == backward)
        #expect(forward.hashValue == backward.hashValue)
        backward["k3"] = .int(-1)
        #expect(forward != backward)
        // A small object equals a large one built down to the same members.
        var shrunk = forward
        for i in 5..<40 { shrunk["k\(i)"] = nil }
        let small: JSONObject = ["k0": 0, "k1": 1, "k2": 2, "k3": 3, "k4": 4]
        #expect(shrunk == small)
        #expect(shrunk.hashValue == small.hashValue)
    }
}
