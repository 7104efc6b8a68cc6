/// Errors seen during a run, counted by kind, with the first few messages of each kind kept as samples.
public struct ErrorTally: Sendable, Codable, Equatable {
    public private(set) var counts: [String: Int] = [:]
    public private(set) var samples: [String] = []

    public static let sampleLimit = 8

    public init() {}

    public var total: Int { counts.values.reduce(0, +) }

    public mutating func add(_ kind: String, _ message: @autoclosure () -> String = "") {
        let previous = counts[kind, default: 0]
        counts[kind] = previous + 1
        if previous < 2, samples.count < Self.sampleLimit {
            let text = message()
            samples.append(text.isEmpty ? kind : "\(kind): \(text)")
        }
    }

    public mutating func merge(_ other: ErrorTally) {
        for (kind, count) in other.counts { counts[kind, default: 0] += count }
        for sample in other.samples where samples.count < Self.sampleLimit && !samples.contains(sample) {
            samples.append(sample)
        }
    }
}
