import Testing
@testable import MoonwireCore

@Suite struct JSONTests {
    let parser = JSONParser()

    @Test func parsesScalarsAndKeepsIntegerDistinction() throws {
        #expect(try parser.parse("42") == .int(42))
        #expect(try parser.parse("-7") == .int(-7))
        #expect(try parser.parse("1.5") == .double(1.5))
        #expect(try parser.parse("1e3") == .double(1000))
        #expect(try parser.parse("true") == .bool(true))
        #expect(try parser.parse("null") == .null)
        #expect(try parser.parse(" \"a\\nb\" ") == .string("a\nb"))
    }

    @Test func objectsKeepKeyOrderAndLastDuplicateWins() throws {
        let value = try parser.parse(#"{"b":1,"a":2,"b":3}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["b", "a"])
        #expect(object["b"] == .int(3))
    }

    @Test func unicodeEscapesIncludingSurrogatePairs() throws {
        #expect(try parser.parse(#""\u00e9\ud83d\ude00""#) == .string("é😀"))
        #expect(throws: JSONParser.Error.self) { try parser.parse(#""\ud83d""#) }
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\":}", "01", "1.", "\"abc", "tru", "{} x", "\"a\u{01}\"", "{a:1}", "NaN"])
    func rejectsMalformedDocuments(_ text: String) {
        #expect(throws: JSONParser.Error.self) { try parser.parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParser.Error.self) { try parser.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func limitsNestingDepth() throws {
        let shallow = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(try JSONParser(maxDepth: 10).parse(shallow).arrayValue != nil)
        let deep = String(repeating: "[", count: 11) + String(repeating: "]", count: 11)
        #expect(throws: JSONParser.Error.self) { try JSONParser(maxDepth: 10).parse(deep) }
    }

    @Test func writerRoundTrips() throws {
        let value: JSONValue = [
            "text": "quote \" backslash \\ newline \n tab \t bell \u{07} é",
            "numbers": [1, -2, 3.25, 1e21],
            "nested": ["ok": true, "none": nil],
        ]
        let text = JSONWriter.string(value)
        #expect(!text.contains("\n"))
        #expect(try parser.parse(text) == value)
    }

    @Test func writerKeepsFloatsAsFloats() throws {
        #expect(JSONWriter.string(.double(2)) == "2.0")
        #expect(JSONWriter.string(.double(.nan)) == "null")
        #expect(try parser.parse(JSONWriter.string(.double(1795958102.7813125))) == .double(1795958102.7813125))
    }
}
