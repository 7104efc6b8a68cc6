/// How the deliveries of one event went.
struct DeliveryTally: Sendable {
    var delivered = 0
    var overflowed = 0

    mutating func add(_ outcome: DeliveryOutcome) {
        switch outcome {
        case .delivered: delivered += 1
        case .overflowed: overflowed += 1
        case .skipped: break
        }
    }

    mutating func add(_ other: DeliveryTally) {
        delivered += other.delivered
        overflowed += other.overflowed
    }
}
