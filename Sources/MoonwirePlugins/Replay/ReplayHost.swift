import Foundation
import MoonwireCore

/// One version of a plugin alone in a hub of its own, for `PluginReplay`: asked what it would do with
/// each event, without connections.
final class ReplayHost: Sendable {
    /// What `on_publish` (and a type's `validate` and `handle`) made of an event.
    struct PublishVerdict {
        var summary: String
        /// The event as it would be stored, when it would be.
        var passed: Event?
    }

    let clock: ManualClock
    let host: PluginHost
    let hub: Hub
    private let directory: String

    init(name: String, source: PluginSource, settings: JSONObject) throws(PluginError) {
        directory = NSTemporaryDirectory() + "moonwire-replay-" + RandomID.token(length: 10)
        do {
            try FileManager.default.createDirectory(atPath: directory + "/" + PluginLibrary.folder, withIntermediateDirectories: true)
            try source.text.write(toFile: directory + "/\(name).lua", atomically: true, encoding: .utf8)
            for library in source.libraries {
                try library.text.write(toFile: directory + "/\(PluginLibrary.folder)/\(library.name).lua", atomically: true, encoding: .utf8)
            }
        } catch {
            throw .load(name, "cannot prepare the replay: \(error.localizedDescription)")
        }
        let local: LocalPluginHub
        do throws(LocalPluginHub.LoadFailure) {
            local = try LocalPluginHub(directory: directory, plugins: [name], settings: [name: settings], states: 1, logLevel: .error, trigger: "replay")
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw .load(name, "\(source.path): \(error.message)")
        }
        (clock, host, hub) = (local.clock, local.host, local.hub)
    }

    func stop() {
        host.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// What the version does with `event` published by its user from a WebSocket.
    func publishVerdict(_ event: Event) async -> PublishVerdict {
        let room = event.roomID ?? RoomName.general
        if let custom = host.eventType(event.type), let problem = await custom.validate(event.data) {
            return PublishVerdict(summary: "invalid: \(problem)", passed: nil)
        }
        let connection = ConnectionInfo(
            id: "replay-publisher", transport: .webSocket, identity: Identity(userID: event.userID), remoteAddress: nil, rooms: [room])
        let publisher = PublisherInfo(connection: connection, transport: .webSocket, userID: event.userID)
        switch await host.filterPublish(event, from: publisher) {
        case .pass(var passed):
            passed.id = event.id
            passed.ephemeralID = event.ephemeralID
            passed.roomID = event.roomID
            passed.timestamp = event.timestamp
            let summary = passed.data == event.data ? "passed" : "changed: data = \(JSONWriter.string(passed.data))"
            return PublishVerdict(summary: summary, passed: passed)
        case .drop:
            return PublishVerdict(summary: "dropped", passed: nil)
        case .reject(let reason, let code):
            return PublishVerdict(summary: "rejected (\(code ?? "rejected")): \(reason)", passed: nil)
        }
    }

    /// What a recipient with `roles` gets of `event`.
    func deliveryVerdict(_ event: Event, roles: [String]) async -> String {
        guard host.filtersDelivery else { return "delivered" }
        let recipient = ConnectionInfo(
            id: "replay-recipient", transport: .webSocket, identity: Identity(userID: "replay-recipient", roles: roles), remoteAddress: nil,
            rooms: [event.roomID ?? RoomName.general])
        switch await host.filterDelivery(event, to: recipient).decision {
        case .deliver: return "delivered"
        case .replace(let changed): return "delivered changed: data = \(JSONWriter.string(changed.data))"
        case .drop: return "withheld"
        }
    }
}
