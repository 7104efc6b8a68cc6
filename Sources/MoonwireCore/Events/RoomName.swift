/// Rules for room ids.
public enum RoomName {
    /// The room every hub has and every connection joins unless told otherwise.
    public static let general = "general"

    /// Longest room id accepted, in bytes.
    public static let maxLength = 128

    /// Checks a room id: 1 to 128 of letters, digits, `_`, `-`, `.`, `@`, `/`, `~` or `+`.
    /// (`,` and `:` are kept out because cursors use them.)
    public static func validate(_ room: String) -> HubError? {
        let utf8 = room.utf8
        if utf8.isEmpty { return HubError(.invalidRoom, "room id must not be empty") }
        if utf8.count > maxLength { return HubError(.invalidRoom, "room id is longer than \(maxLength) bytes") }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "~"),
                UInt8(ascii: "+"):
                continue
            default:
                return HubError(
                    .invalidRoom, "room id '\(room.prefix(40))' may only hold letters, digits and _ - . @ / ~ +")
            }
        }
        return nil
    }
}
