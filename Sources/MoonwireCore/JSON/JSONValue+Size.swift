extension JSONValue {
    /// About how many bytes the value takes in memory: its compact JSON size, plus a little for each
    /// container. One walk over the value, no allocation.
    public var approximateByteCount: Int {
        switch self {
        case .null, .bool: return 8
        case .int, .double: return 16
        case .string(let s): return s.utf8.count + 16
        case .array(let array):
            var total = 32
            for element in array { total += element.approximateByteCount }
            return total
        case .object(let object):
            var total = 32
            for member in object { total += member.key.utf8.count + 16 + member.value.approximateByteCount }
            return total
        }
    }
}
