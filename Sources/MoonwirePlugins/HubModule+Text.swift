import LuaRuntime
import MoonwireCore

/// `hub.text`: normalized forms of text for matching it against word lists (`TextNormalizer`).
extension HubModule {
    /// The longest text `hub.text` functions take, in bytes: their work grows with it, outside Lua's limits.
    static let maxTextBytes = 1 << 20

    static func text() -> [(String, LuaHostFunction)] {
        [
            ("text.normalize", { call throws(LuaCallError) in [.string(TextNormalizer.normalize(try boundedText(call, "normalize")))] }),
            ("text.squeeze", { call throws(LuaCallError) in [.string(TextNormalizer.squeeze(try boundedText(call, "squeeze")))] }),
            ("text.words", { call throws(LuaCallError) in
                [.json(.array(TextNormalizer.words(try boundedText(call, "words")).map { .string($0) }))]
            }),
        ]
    }

    private static func boundedText(_ call: LuaCall, _ name: String) throws(LuaCallError) -> String {
        let text = try call.string(1)
        guard text.utf8.count <= maxTextBytes else {
            throw LuaCallError("hub.text.\(name): the text is \(text.utf8.count) bytes, over the \(maxTextBytes) this function takes")
        }
        return text
    }
}
