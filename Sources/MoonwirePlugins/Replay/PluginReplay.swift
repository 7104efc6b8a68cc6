import Foundation
import Logging
import MoonwireCore

/// Runs a room's stored events through two versions of one plugin — the running one and a candidate —
/// and lists every event whose verdict or delivered content differs (`moonwire plugins replay`). Each
/// version runs in a hub of its own, in process, on a clock that follows the events' timestamps (so rate
/// windows and expiries pass as they did).
public struct PluginReplay: Sendable {
    /// Where the two versions disagreed about one event.
    public struct Difference: Sendable, Equatable {
        public var room: String
        public var eventID: String
        public var eventType: String
        public var userID: String
        /// `on_publish`, or `on_deliver` and the recipient's roles.
        public var step: String
        public var running: String
        public var candidate: String
    }

    /// Events replayed, and the differences in event order.
    public struct Outcome: Sendable {
        public var events: Int
        public var differences: [Difference]
    }

    public var pluginName: String
    public var running: PluginSource
    public var candidate: PluginSource
    /// The plugin's settings (`[plugins.NAME]`), the same for both versions.
    public var settings: JSONObject
    /// The recipients `on_deliver` is asked about: one per set of roles.
    public var recipientRoles: [[String]]

    public init(pluginName: String, running: PluginSource, candidate: PluginSource, settings: JSONObject = [:], recipientRoles: [[String]] = [[]]) {
        self.pluginName = pluginName
        self.running = running
        self.candidate = candidate
        self.settings = settings
        self.recipientRoles = recipientRoles.isEmpty ? [[]] : recipientRoles
    }

    /// Replays `events` (any rooms; taken in timestamp order) through both versions.
    public func run(_ events: [Event]) async throws(PluginError) -> Outcome {
        let ordered = events.sorted { ($0.timestamp.seconds, $0.id ?? .zero) < ($1.timestamp.seconds, $1.id ?? .zero) }
        let old = try ReplayHost(name: pluginName, source: running, settings: settings)
        let new = try ReplayHost(name: pluginName, source: candidate, settings: settings)
        defer {
            old.stop()
            new.stop()
        }
        var differences: [Difference] = []
        var previous = ordered.first?.timestamp.seconds ?? 0
        for event in ordered {
            let step = max(0, event.timestamp.seconds - previous)
            previous = max(previous, event.timestamp.seconds)
            old.clock.advance(by: .nanoseconds(Int64(step * 1e9)))
            new.clock.advance(by: .nanoseconds(Int64(step * 1e9)))
            let before = await old.publishVerdict(event)
            let after = await new.publishVerdict(event)
            func note(_ step: String, _ running: String, _ candidate: String) {
                guard running != candidate else { return }
                differences.append(Difference(
                    room: event.roomID ?? "", eventID: event.id?.description ?? event.ephemeralID, eventType: event.type.rawValue,
                    userID: event.userID, step: step, running: running, candidate: candidate))
            }
            note("on_publish", before.summary, after.summary)
            // What each recipient gets, when both versions let the event through (else on_publish differs).
            guard let passedBefore = before.passed, let passedAfter = after.passed else { continue }
            for roles in recipientRoles {
                let label = "on_deliver (roles: \(roles.isEmpty ? "none" : roles.joined(separator: ", ")))"
                note(label, await old.deliveryVerdict(passedBefore, roles: roles), await new.deliveryVerdict(passedAfter, roles: roles))
            }
        }
        return Outcome(events: ordered.count, differences: differences)
    }
}
