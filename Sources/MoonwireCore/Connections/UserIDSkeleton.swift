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
