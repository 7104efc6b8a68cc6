import MoonwireCore
import Testing

@Suite struct TextNormalizerTests {
    @Test func normalizeFoldsWidthCaseAccentsAndInvisibleCharacters() {
        #expect(TextNormalizer.normalize("ｓｐａｍ") == "spam")
        #expect(TextNormalizer.normalize("SPAM") == "spam")
        #expect(TextNormalizer.normalize("Spåm") == "spam")
        #expect(TextNormalizer.normalize("sp\u{200B}am") == "spam")
        #expect(TextNormalizer.normalize("s\u{00AD}pam\u{FEFF}") == "spam")
        #expect(TextNormalizer.normalize("Straße") == "strasse")
        #expect(TextNormalizer.normalize("ﬁne") == "fine")
        #expect(TextNormalizer.normalize("a\u{00A0}b\tc") == "a b c")
        #expect(TextNormalizer.normalize("ΣΟΦΟΣ") == "σοφοσ")
        // Other scripts keep their letters.
        #expect(TextNormalizer.normalize("مرحبا") == "مرحبا")
        #expect(TextNormalizer.normalize("日本語") == "日本語")
    }

    @Test func wordsAreRunsOfLettersAndDigitsInAnyScript() {
        #expect(TextNormalizer.words("Buy SPAM, now! don't") == ["buy", "spam", "now", "don't"])
        #expect(TextNormalizer.words("привет мир 42") == ["привет", "мир", "42"])
        #expect(TextNormalizer.words("  ...  ") == [])
        #expect(TextNormalizer.words("'spam' it’s") == ["spam", "it's"], "edge apostrophes go, typographic ones read as plain")
    }

    @Test func squeezeJoinsLettersWrittenApartAndLeavesWordsAlone() {
        #expect(TextNormalizer.squeeze("s p a m") == "spam")
        #expect(TextNormalizer.squeeze("buy s.p.a.m now") == "buy spam now")
        #expect(TextNormalizer.squeeze("S - P - A - M") == "spam")
        #expect(TextNormalizer.squeeze("a spa, a map") == "a spa, a map")
        #expect(TextNormalizer.squeeze("x\ny") == "x\ny", "a line break is not a separator inside a word")
    }
}
