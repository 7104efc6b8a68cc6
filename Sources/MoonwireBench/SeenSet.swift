/// The sequence numbers one subscriber has received, as a growable bit set: tells a first delivery from
/// a duplicate in O(1).
struct SeenSet {
    private var words: [UInt64] = []
    private(set) var count = 0

    /// Inserts `seq`; false when it was already there (a duplicate).
    @inline(__always)
    mutating func insert(_ seq: UInt64) -> Bool {
        let word = Int(seq >> 6)
        let bit = UInt64(1) << (seq & 63)
        if word >= words.count {
            words.append(contentsOf: repeatElement(0, count: max(word + 1 - words.count, words.count / 2 + 4)))
        }
        if words[word] & bit != 0 { return false }
        words[word] |= bit
        count += 1
        return true
    }

    func contains(_ seq: UInt64) -> Bool {
        let word = Int(seq >> 6)
        return word < words.count && words[word] & (UInt64(1) << (seq & 63)) != 0
    }

    mutating func removeAll() {
        words.removeAll(keepingCapacity: true)
        count = 0
    }
}
