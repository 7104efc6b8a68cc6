import Logging
import MoonwireCore
import Synchronization

/// Presence shared by every node on one Redis: each node keeps one entry per (room, user) it holds,
/// refreshed every third of the TTL; entries of a node that stopped refreshing expire and are reaped by
/// whichever node gets there first, which alone announces the users that left (see `RedisScripts`).
final class RedisPresenceStore: PresenceStore {
    private let keys: RedisKeys
    private let nodeID: String
    private let ttl: Duration
    private let commands: RedisClient
    private let logger: Logger
    private let host = Mutex<(any PresenceHost)?>(nil)
    private let schedule = Mutex<(lastRefresh: ContinuousClock.Instant?, connects: Int)>((nil, 0))

    init(keys: RedisKeys, nodeID: String, ttl: Duration, commands: RedisClient, logger: Logger) {
        self.keys = keys
        self.nodeID = nodeID
        self.ttl = ttl
        self.commands = commands
        self.logger = logger
    }

    func attach(_ host: any PresenceHost) {
        self.host.withLock { $0 = host }
    }

    private var ttlMilliseconds: String {
        String(max(1, Int64(ttl.nanoseconds / 1_000_000)))
    }

    private var prefixes: [RedisArgument] {
        [.string(keys.presenceRoomPrefix), .string(keys.presenceUsersPrefix), .string(keys.presenceNodePrefix)]
    }

    static func encode(_ detail: PresenceDetail) -> RedisArgument {
        let object: JSONValue = [
            "c": .int(Int64(detail.connections)),
            "t": .array(detail.transports.map { .string($0) }),
            "m": .object(detail.metadata),
        ]
        return .bytes(JSONWriter.bytes(object))
    }

    // MARK: PresenceStore

    func join(room: String, user: String, detail: PresenceDetail, firstHere: Bool) async throws -> Bool {
        let reply = try await commands.run(
            RedisScripts.presenceJoin, keys: [keys.presenceExpiry],
            arguments: prefixes + [.string(room), .string(user), .string(nodeID), Self.encode(detail), .string(ttlMilliseconds)])
        return reply.int == 1
    }

    func leave(room: String, user: String, remaining: PresenceDetail?) async throws -> Bool {
        let reply = try await commands.run(
            RedisScripts.presenceLeave, keys: [keys.presenceExpiry],
            arguments: prefixes + [
                .string(room), .string(user), .string(nodeID), remaining.map(Self.encode) ?? .string(""), .string(ttlMilliseconds),
            ])
        return reply.int == 1
    }

    func members(room: String, local: [PresenceEntry]) async throws -> [PresenceEntry] {
        let reply = try await commands.run(RedisScripts.presenceMembers, keys: [keys.presenceExpiry], arguments: prefixes + [.string(room)])
        guard let flat = reply.array else { throw RedisError.unexpectedReply("presence members") }
        var byUser: [String: PresenceEntry] = [:]
        var index = 0
        while index + 1 < flat.count {
            defer { index += 2 }
            guard let field = flat[index].string, let newline = field.lastIndex(of: "\n"), let bytes = flat[index + 1].bytes,
                case .object(let object)? = try? JSONParser().parse(bytes)
            else { continue }
            let user = String(field[..<newline])
            let connections = Int(object["c"]?.intValue ?? 0)
            let transports = object["t"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let metadata = object["m"]?.objectValue ?? [:]
            if var entry = byUser[user] {
                entry.connections += connections
                entry.transports = Array(Set(entry.transports + transports)).sorted()
                byUser[user] = entry
            } else {
                byUser[user] = PresenceEntry(userID: user, connections: connections, transports: transports.sorted(), metadata: metadata)
            }
        }
        return byUser.values.sorted { $0.userID < $1.userID }
    }

    func isPresent(user: String, room: String) async throws -> Bool {
        let reply = try await commands.send(["HGET", .string(keys.presenceUsers(room)), .string(user)])
        return (reply.int ?? 0) > 0
    }

    // MARK: Upkeep

    /// Refreshes this node's entries (every third of the TTL, and at once after a reconnect), then reaps
    /// expired entries of other nodes and announces their users.
    func maintain() async {
        guard commands.isConnected, let host = host.withLock({ $0 }) else { return }
        let now = ContinuousClock.now
        let connects = commands.connects
        let due = schedule.withLock { schedule -> Bool in
            let due = schedule.lastRefresh.map { now - $0 >= ttl / 3 } ?? true
            return due || schedule.connects != connects
        }
        if due {
            do {
                try await refresh(host: host, entries: host.localPresence())
                schedule.withLock { $0 = (now, connects) }
            } catch {
                logger.warning("presence refresh failed", metadata: ["error": "\(error)"])
            }
        }
        do {
            let reply = try await commands.run(RedisScripts.presenceReap, keys: [keys.presenceExpiry], arguments: prefixes + ["500"])
            for (room, user) in Self.pairs(reply) {
                await host.presenceExpired(room: room, user: user)
            }
        } catch {
            logger.warning("presence reaping failed", metadata: ["error": "\(error)"])
        }
    }

    /// Makes this node's entries `entries`; announces the users that joined or left over all nodes by it.
    private func refresh(host: any PresenceHost, entries: [(room: String, user: String, detail: PresenceDetail)]) async throws {
        var arguments = prefixes + [.string(nodeID), .string(ttlMilliseconds)]
        arguments.reserveCapacity(arguments.count + entries.count * 3)
        for entry in entries {
            arguments.append(.string(entry.room))
            arguments.append(.string(entry.user))
            arguments.append(Self.encode(entry.detail))
        }
        let reply = try await commands.run(RedisScripts.presenceRefresh, keys: [keys.presenceExpiry], arguments: arguments)
        guard let lists = reply.array, lists.count == 2 else { return }
        for (room, user) in Self.pairs(lists[1]) {
            await host.presenceExpired(room: room, user: user)
        }
        if !Self.pairs(lists[0]).isEmpty {
            logger.info("presence restored in Redis", metadata: ["entries": "\(Self.pairs(lists[0]).count)"])
        }
    }

    /// Removes every entry of this node (at shutdown), announcing the users it was the last to hold.
    func leaveAll() async {
        guard commands.isConnected, let host = host.withLock({ $0 }) else { return }
        do {
            try await refresh(host: host, entries: [])
        } catch {
            logger.warning("presence cleanup failed; entries expire by themselves", metadata: ["error": "\(error)"])
        }
    }

    /// A flat room, user, room, user… reply as pairs.
    static func pairs(_ reply: RESPValue) -> [(String, String)] {
        guard let flat = reply.array else { return [] }
        var result: [(String, String)] = []
        var index = 0
        while index + 1 < flat.count {
            if let room = flat[index].string, let user = flat[index + 1].string { result.append((room, user)) }
            index += 2
        }
        return result
    }
}
