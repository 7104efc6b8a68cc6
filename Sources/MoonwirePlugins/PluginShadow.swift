import MoonwireCore
import Synchronization

/// A candidate version of a plugin running beside the live one (`POST /api/plugins/NAME/shadow`): it is
/// asked everything the live version is asked in `on_publish` and `on_deliver`, its answers are compared
/// with the live ones and recorded, and never applied. Its `hub` functions change nothing.
public final class PluginShadow: Sendable {
    let plugin: Plugin
    public let source: PluginSource
    public let since: Timestamp
    private let record = Mutex(Record())

    /// The most disagreements kept as samples (the latest).
    static let samplesKept = 20

    struct Record {
        var calls: [String: Int] = [:]
        var disagreements: [String: Int] = [:]
        var samples: [JSONValue] = []
    }

    init(plugin: Plugin, source: PluginSource) {
        self.plugin = plugin
        self.source = source
        self.since = .now()
    }

    /// Records one call both versions answered about `event`: `live` and `shadow` as
    /// `Plugin.Outcome.verdict` words.
    func compare(_ step: String, _ event: Event, live: String, shadow: String) {
        compare(step, subject: Self.subject(event), live: live, shadow: shadow)
    }

    /// What a sample says of the event a call was about.
    static func subject(_ event: Event) -> JSONObject {
        [
            "event_id": event.id.map { .string($0.description) } ?? .string(event.ephemeralID), "event_type": .string(event.type.rawValue),
            "user_id": .string(event.userID), "room_id": event.roomID.map { .string($0) } ?? .null,
        ]
    }

    /// Records one call both versions answered; `subject` says what it was about (in the samples).
    func compare(_ step: String, subject: @autoclosure () -> JSONObject, live: String, shadow: String) {
        record.withLock { record in
            record.calls[step, default: 0] += 1
            guard live != shadow else { return }
            record.disagreements[step, default: 0] += 1
            var sample = subject()
            sample["step"] = .string(step)
            sample["live"] = .string(live)
            sample["shadow"] = .string(shadow)
            sample["at"] = .double(Timestamp.now().seconds)
            record.samples.append(.object(sample))
            if record.samples.count > Self.samplesKept { record.samples.removeFirst(record.samples.count - Self.samplesKept) }
        }
    }

    /// Counts per step, disagreements per step, and the latest disagreements.
    public var json: JSONValue {
        record.withLock { record in
            [
                "plugin": .string(plugin.name), "source_sha256": .string(source.hash), "since": .double(since.seconds),
                "calls": .object(JSONObject(record.calls.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
                "disagreements": .object(JSONObject(record.disagreements.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
                "samples": .array(record.samples),
            ]
        }
    }
}

extension Plugin.Outcome {
    /// What a hook's answer means, in words that compare: `no opinion`, `accepted`, `dropped`,
    /// `rejected (CODE): REASON`, `changed: data = {...}`, `failed`.
    var verdict: String {
        switch self {
        case .retired: return "no opinion"
        case .failed(let failure): return "failed (\(failure.reason.rawValue))"
        case .done(let results):
            switch results.first ?? .none {
            case .none: return "no opinion"
            case .bool(true): return "accepted"
            case .bool(false):
                guard let reason = results.string(at: 1) else { return "dropped" }
                return "rejected (\(results.string(at: 2) ?? "rejected")): \(reason)"
            case .value(.object(let fields)) where fields["data"] != nil: return "changed: data = \(JSONWriter.string(fields["data"] ?? .null))"
            case .value(let value): return "answered \(JSONWriter.string(value))"
            default: return "bad return"
            }
        }
    }
}
