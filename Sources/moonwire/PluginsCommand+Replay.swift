import ArgumentParser
import Foundation
import MoonwireClient
import MoonwireCore
import MoonwirePlugins
import MoonwireServer
import MoonwireSQLite

extension PluginsCommand {
    /// `moonwire plugins replay NEW.lua`: what a changed plugin would have done differently with a room's
    /// history, before it goes live.
    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run rooms' history through a changed plugin and the running version; print where they differ.",
            discussion: """
                The running version is the plugin of the same name in --plugins (default plugins/); the candidate \
                is FILE. The events come from a running hub (--against URL, its /api/rooms/ROOM/history) or from a \
                SQLite history file (--history sqlite:FILE; use a copy of a live hub's file). Each event goes \
                through both versions' on_publish (and a type's validate and handle), in timestamp order on a \
                clock that follows the events; when both let it through, through on_deliver for a recipient \
                with each --roles set. Every difference is printed: passed, changed (with the data), dropped, \
                rejected (with the reason), withheld. Exits 0 whether or not they differ (1 on an error).
                """)

        @Argument(help: "The candidate: a .lua file (or a folder with init.lua) named like the plugin it replaces.")
        var candidate: String

        @Option(help: "The plugins directory of the running version.")
        var plugins = "plugins"

        @Option(help: "A running hub whose rooms' history to replay (loopback or not; read-only).")
        var against: String?

        @Option(name: .customLong("api-key"), help: "The hub's API key, if it has one (also MOONWIRE_SERVER_API_KEY).")
        var apiKey: String?

        @Option(help: "A SQLite history file instead, as sqlite:FILE.")
        var history: String?

        @Option(help: "Only these rooms (repeatable). Default: every room with history.")
        var room: [String] = []

        @Option(help: "Roles of one on_deliver recipient, comma-separated (repeatable; \"\" for none). Default: one recipient without roles.")
        var roles: [String] = []

        @Option(name: .shortAndLong, help: "Configuration file whose [plugins.NAME] table holds the plugin's settings.")
        var config: String?

        func run() async throws {
            let candidateSource: PluginSource
            do {
                candidateSource = try PluginSource.read(path: candidate)
            } catch {
                fail("cannot read \(candidate): \(error.localizedDescription)")
            }
            let name = candidateSource.fileName
            guard let runningSource = PluginSource.scan(directory: plugins).sources.first(where: { $0.fileName == name }) else {
                fail("\(plugins)/ has no plugin named '\(name)' to compare with (the candidate's file name names the plugin)")
            }
            var settings: JSONObject = [:]
            if let config {
                do {
                    settings = try ConfigurationLoader.pluginSettings(fromFile: config)[name] ?? [:]
                } catch {
                    fail("invalid configuration: \(error)")
                }
            }
            let events = try await loadEvents()
            let recipientRoles = roles.isEmpty ? [[]] : roles.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            let replay = PluginReplay(
                pluginName: name, running: runningSource, candidate: candidateSource,
                settings: settings, recipientRoles: recipientRoles)
            let outcome: PluginReplay.Outcome
            do {
                outcome = try await replay.run(events)
            } catch {
                fail("\(error)")
            }
            var last = ""
            for difference in outcome.differences {
                let key = "\(difference.room)/\(difference.eventID)"
                if key != last {
                    print("\(difference.room) \(difference.eventID) \(difference.eventType) from \(difference.userID):")
                    last = key
                }
                print("  \(difference.step): running: \(difference.running)")
                print("  \(String(repeating: " ", count: difference.step.count))  candidate: \(difference.candidate)")
            }
            let differing = Set(outcome.differences.map { "\($0.room)/\($0.eventID)" }).count
            print("\(outcome.events) events replayed through \(name) (\(runningSource.path)) and \(candidateSource.path): \(differing) differ")
        }

        /// The events to replay, from the hub or the file.
        private func loadEvents() async throws -> [Event] {
            switch (against, history) {
            case (let url?, nil):
                let key = apiKey ?? ProcessInfo.processInfo.environment["MOONWIRE_SERVER_API_KEY"]
                let client = HubHTTPClient(baseURL: url, headers: key.map { [("Authorization", "Bearer \($0)")] } ?? [])
                var rooms = room
                if rooms.isEmpty {
                    let listing = try await client.request("GET", "/api/rooms")
                    guard listing.status == 200 else { fail("GET /api/rooms answered \(listing.status): \(listing.text.prefix(200))") }
                    rooms = listing.body?["rooms"]?.arrayValue?.compactMap { $0["room_id"]?.stringValue } ?? []
                }
                var events: [Event] = []
                for name in rooms {
                    let encoded = name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name
                    let reply = try await client.request("GET", "/api/rooms/\(encoded)/history?limit=10000")
                    guard reply.status == 200 else { fail("history of '\(name)' answered \(reply.status): \(reply.text.prefix(200))") }
                    events += (reply.body?["events"]?.arrayValue ?? []).compactMap { Event(wire: $0) }
                }
                return events
            case (nil, let location?):
                guard location.hasPrefix("sqlite:") else { fail("--history takes sqlite:FILE") }
                let path = String(location.dropFirst("sqlite:".count))
                guard FileManager.default.fileExists(atPath: path) else { fail("no such file: \(path)") }
                var options = SQLiteBroker.Options(path: path)
                options.historySize = 1_000_000  // read everything, trim nothing
                let broker = try await SQLiteBroker.open(options: options)
                var events: [Event] = []
                for name in room.isEmpty ? broker.roomsWithHistory() : room {
                    events += try await broker.history(room: name, .latest(1_000_000)).events
                }
                await broker.shutdown()
                return events
            default:
                fail("give the events: --against URL (a running hub) or --history sqlite:FILE")
            }
        }

        private func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data("moonwire: \(message)\n".utf8))
            Foundation.exit(1)
        }
    }
}
