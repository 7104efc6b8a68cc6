// Foundation for Unicode compatibility decomposition (NFKD) only; the rest is the standard library.
import Foundation

/// What a user id looks like, reduced to plain lowercase Latin, so that ids made to look like a reserved
/// one (`System`, `"system "`, `ѕystem` with a Cyrillic ѕ, fullwidth `ｓｙｓｔｅｍ`, `sys\u{200B}tem`)
/// compare equal to it.
///
/// The skeleton: compatibility decomposition (NFKD: fullwidth and mathematical letters, ligatures);
/// combining marks, default-ignorable characters (zero-width spaces and joiners, soft hyphens, …) and
/// white space removed; Cyrillic and Greek letters that look like Latin ones replaced by them; lowercase;
/// `rn` read as `m`. It is meant for refusing look-alikes of a few reserved names, not as a general
/// confusables check (UTS #39).
public enum UserIDSkeleton {
    /// Whether `id` reads as `reserved`.
    public static func looksLike(_ id: String, _ reserved: String) -> Bool {
        id == reserved || skeleton(id) == skeleton(reserved)
    }

    /// The skeleton of `text`.
    public static func skeleton(_ text: String) -> String {
        if let ascii = asciiSkeleton(text) { return ascii }
        var scalars = String.UnicodeScalarView()
        for scalar in text.decomposedStringWithCompatibilityMapping.unicodeScalars {
            let properties = scalar.properties
            if properties.isDefaultIgnorableCodePoint || properties.isWhitespace { continue }
            switch properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark, .format, .control: continue
            default: break
            }
            if let latin = lookAlikes[scalar.value] {
                scalars.append(latin)
            } else {
                scalars.append(contentsOf: properties.lowercaseMapping.unicodeScalars)
            }
        }
        var result = String(scalars)
        while let range = result.range(of: "rn") { result.replaceSubrange(range, with: "m") }
        return result
    }

    /// The skeleton of an ASCII-only `text` (most ids, checked on every poll), without Unicode tables: ASCII
    /// has no compatibility forms, marks or look-alikes, so it is white space and controls removed,
    /// lowercase, `rn` read as `m`. `nil` when `text` is not ASCII.
    private static func asciiSkeleton(_ text: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            guard byte < 0x80 else { return nil }
            if byte <= 0x20 || byte == 0x7F { continue }  // white space and controls
            let lower = (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
            if lower == UInt8(ascii: "n"), bytes.last == UInt8(ascii: "r") {
                bytes[bytes.count - 1] = UInt8(ascii: "m")
            } else {
                bytes.append(lower)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Letters of other scripts that look like a Latin letter (upper and lower case listed apart where
    /// they look different), and a few Latin letters that look like another.
    private static let lookAlikes: [UInt32: Unicode.Scalar] = {
        let pairs: [(String, Character)] = [
            // Cyrillic
            ("Аа", "a"), ("В", "b"), ("Ь", "b"), ("Сс", "c"), ("ԁ", "d"), ("Ее", "e"), ("ҽ", "e"), ("Һһ", "h"), ("Н", "h"),
            ("Ііӏ", "i"), ("Јј", "j"), ("Кк", "k"), ("М", "m"), ("м", "m"), ("Оо", "o"), ("Рр", "p"), ("ԛ", "q"),
            ("Ѕѕ", "s"), ("Т", "t"), ("т", "t"), ("Уу", "y"), ("Үү", "y"), ("Хх", "x"), ("Ԝԝ", "w"), ("Ѵѵ", "v"),
            // Greek
            ("Αα", "a"), ("Ββ", "b"), ("Εε", "e"), ("Ζ", "z"), ("Η", "h"), ("η", "n"), ("Ιι", "i"), ("Κκ", "k"), ("Μ", "m"),
            ("Ν", "n"), ("ν", "v"), ("Οο", "o"), ("Ρρ", "p"), ("Ττ", "t"), ("Υ", "y"), ("υ", "u"), ("γ", "y"), ("Χχ", "x"),
            ("ς", "s"),
            // Latin small capitals and other look-alikes
            ("ꜱ", "s"), ("ʏ", "y"), ("ᴛ", "t"), ("ᴇ", "e"), ("ᴍ", "m"), ("ɑ", "a"), ("ɡ", "g"), ("ı", "i"), ("ȷ", "j"),
            ("ℯ", "e"), ("℮", "e"), ("ɛ", "e"),
        ]
        var map: [UInt32: Unicode.Scalar] = [:]
        for (letters, latin) in pairs {
            for scalar in letters.unicodeScalars { map[scalar.value] = latin.unicodeScalars.first! }
        }
        return map
    }()
}
