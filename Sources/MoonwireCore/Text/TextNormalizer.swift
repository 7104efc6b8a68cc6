// Foundation for Unicode normalization (NFKD, NFC) only; the rest is the standard library.
import Foundation

/// Plain forms of text for matching it against word lists, so that `ｓｐａｍ`, `SPAM`, `sp\u{200B}am`,
/// `spåm` and `s p a m` can all be caught as `spam`. What plugins get as `hub.text`.
///
/// `normalize` is the compatibility form (NFKC: fullwidth and mathematical letters, ligatures) with
/// combining marks (accents), default-ignorable characters (zero-width spaces and joiners, soft hyphens,
/// …) and control characters removed, white space made a plain space (a line break `\n`), and case
/// folded. `squeeze` also
/// joins letters written apart. Both are for matching, not for display.
public enum TextNormalizer {
    /// `text` normalized: NFKC, marks and invisible characters removed, case folded.
    public static func normalize(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.decomposedStringWithCompatibilityMapping.unicodeScalars {
            let properties = scalar.properties
            if properties.isWhitespace {
                scalars.append(lineBreaks.contains(scalar.value) ? "\n" : " ")
                continue
            }
            if properties.isDefaultIgnorableCodePoint { continue }
            switch properties.generalCategory {
            case .nonspacingMark, .enclosingMark, .format, .control, .unassigned, .surrogate, .privateUse: continue
            default: break
            }
            if let folded = foldings[scalar.value] {
                scalars.append(contentsOf: folded.unicodeScalars)
            } else {
                scalars.append(contentsOf: properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(scalars).precomposedStringWithCanonicalMapping
    }

    /// The words of `text` once normalized: runs of letters, digits and inner apostrophes (`don't`), in order.
    public static func words(_ text: String) -> [String] {
        tokens(normalize(text)).filter(\.isWord).compactMap { token in
            let word = token.text.trimmingCharacters(in: apostrophes)
            return word.isEmpty ? nil : word
        }
    }

    private static let apostrophes = CharacterSet(charactersIn: "'")

    /// `text` normalized, with the separators between single letters or digits dropped (`s p a m`,
    /// `s.p.a.m`, `s-p-a-m` → `spam`): "buy s p a m" becomes "buy spam". Longer words keep their spaces.
    public static func squeeze(_ text: String) -> String {
        let parts = tokens(normalize(text))
        var result = ""
        for (index, part) in parts.enumerated() {
            if !part.isWord, index > 0, index + 1 < parts.count, parts[index - 1].isSingle, parts[index + 1].isSingle,
                !part.text.contains("\n")
            {
                continue
            }
            result += part.text
        }
        return result
    }

    /// A run of word characters (letters, digits, connecting marks kept by `normalize`), or of anything else.
    private struct Token {
        var text: String
        var isWord: Bool
        var isSingle: Bool { isWord && text.unicodeScalars.count == 1 }
    }

    private static func tokens(_ text: String) -> [Token] {
        var tokens: [Token] = []
        for scalar in text.unicodeScalars {
            let isWord = isWordScalar(scalar)
            if let last = tokens.last, last.isWord == isWord {
                tokens[tokens.count - 1].text.unicodeScalars.append(scalar)
            } else {
                tokens.append(Token(text: String(scalar), isWord: isWord))
            }
        }
        return tokens
    }

    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber, .spacingMark:
            return true
        default:
            return scalar == "'"
        }
    }

    /// Line feed, vertical tab, form feed, carriage return, next line, line and paragraph separators.
    private static let lineBreaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029]

    /// Case foldings that differ from lowercasing (Unicode CaseFolding.txt, full foldings in common use).
    private static let foldings: [UInt32: String] = [
        0x00DF: "ss",  // ß
        0x1E9E: "ss",  // ẞ
        0x03C2: "σ",  // final sigma
        0x017F: "s",  // long s
        0x2018: "'", 0x2019: "'", 0x02BC: "'",  // typographic apostrophes read as the plain one
    ]
}
