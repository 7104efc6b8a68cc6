import Logging
import MoonwireCore
import NIOCore
import NIOPosix
import SQLiteNIO

/// The SQLite file behind `SQLiteBroker`: one row per retained event, written in batches (one transaction
/// each), trimmed to the history size and age limit from time to time, and read back whole at start.
///
/// WAL journal with `synchronous=NORMAL`: a committed batch survives the process being killed (it is in
/// the journal file); a power cut may lose the last batches, never corrupt the file.
final class SQLiteHistoryFile: Sendable {
    let path: String
    private let database: SQLiteConnection
    private let threadPool: NIOThreadPool

    private init(path: String, database: SQLiteConnection, threadPool: NIOThreadPool) {
        self.path = path
        self.database = database
        self.threadPool = threadPool
    }

    /// Opens (creating if needed) the file and its tables.
    static func open(path: String, logger: Logger) async throws -> SQLiteHistoryFile {
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        do {
            let database = try await SQLiteConnection.open(
                storage: .file(path: path), threadPool: threadPool, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
            let file = SQLiteHistoryFile(path: path, database: database, threadPool: threadPool)
            try await file.prepare()
            return file
        } catch {
            try? await threadPool.shutdownGracefully()
            throw error
        }
    }

    private func prepare() async throws {
        _ = try await database.query("PRAGMA journal_mode=WAL")
        _ = try await database.query("PRAGMA synchronous=NORMAL")
        _ = try await database.query("PRAGMA busy_timeout=5000")
        _ = try await database.query("CREATE TABLE IF NOT EXISTS moonwire_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        _ = try await database.query(
            "CREATE TABLE IF NOT EXISTS moonwire_events (room TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (room, id)) WITHOUT ROWID")
        _ = try await database.query(
            "CREATE TABLE IF NOT EXISTS moonwire_rooms (room TEXT PRIMARY KEY, trimmed INTEGER NOT NULL) WITHOUT ROWID")
        _ = try await database.query(
            "INSERT OR IGNORE INTO moonwire_meta (key, value) VALUES ('created', ?)", [.text(EventID.now().description)])
    }

    /// One room as stored.
    struct StoredRoom {
        var events: [Event] = []
        var trimmed = EventID.zero
        /// An event older than the `capacity` newest exists (it is not retained in memory).
        var beyondCapacity: EventID?
    }

    /// When the file was created: ids below it are from before it (reported as gaps).
    func created() async throws -> EventID {
        let rows = try await database.query("SELECT value FROM moonwire_meta WHERE key = 'created'")
        return rows.first?.column("value")?.string.flatMap { EventID($0) } ?? .now()
    }

    /// Every room's newest `capacity` events (oldest first) and trimmed mark.
    func load(capacity: Int) async throws -> [String: StoredRoom] {
        var rooms: [String: StoredRoom] = [:]
        for row in try await database.query("SELECT room, trimmed FROM moonwire_rooms") {
            guard let room = row.column("room")?.string, let trimmed = row.column("trimmed")?.integer else { continue }
            rooms[room, default: StoredRoom()].trimmed = EventID(Int64(trimmed))
        }
        let rows = try await database.query(
            """
            SELECT room, id, body FROM (
              SELECT room, id, body, ROW_NUMBER() OVER (PARTITION BY room ORDER BY id DESC) AS position FROM moonwire_events
            ) WHERE position <= ? ORDER BY room, id
            """, [.integer(SQLiteInt64(capacity + 1))])
        for row in rows {
            guard let room = row.column("room")?.string, let id = row.column("id")?.integer,
                let body = row.column("body")?.string
            else { continue }
            let eventID = EventID(Int64(id))
            guard let event = EventCodec.decode(Array(body.utf8), id: eventID) else { continue }
            rooms[room, default: StoredRoom()].events.append(event)
        }
        for room in rooms.keys where rooms[room]!.events.count > capacity {
            rooms[room]!.beyondCapacity = rooms[room]!.events.removeFirst().id
        }
        return rooms
    }

    /// Most rows in one INSERT statement (three variables each, well under SQLite's limit of 32,766).
    static let rowsPerStatement = 600

    /// Writes `events` atomically: one INSERT statement (SQLite makes a lone statement its own transaction,
    /// one trip to the database thread), or a transaction around several for a larger batch.
    func write(_ events: [Event]) async throws {
        guard !events.isEmpty else { return }
        if events.count <= Self.rowsPerStatement {
            try await insert(events[...])
            return
        }
        _ = try await database.query("BEGIN IMMEDIATE")
        do {
            var start = 0
            while start < events.count {
                let chunk = events[start..<min(events.count, start + Self.rowsPerStatement)]
                try await insert(chunk)
                start += chunk.count
            }
            _ = try await database.query("COMMIT")
        } catch {
            _ = try? await database.query("ROLLBACK")
            throw error
        }
    }

    private func insert(_ events: ArraySlice<Event>) async throws {
        let placeholders = Array(repeating: "(?, ?, ?)", count: events.count).joined(separator: ", ")
        var binds: [SQLiteData] = []
        binds.reserveCapacity(events.count * 3)
        for event in events {
            binds.append(.text(event.roomID ?? ""))
            binds.append(.integer(SQLiteInt64(event.id?.value ?? 0)))
            binds.append(.text(String(decoding: EventCodec.encode(event), as: UTF8.self)))
        }
        _ = try await database.query("INSERT OR REPLACE INTO moonwire_events (room, id, body) VALUES \(placeholders)", binds)
    }

    /// Deletes what the history size and age limit no longer retain in `rooms`, remembering the newest id
    /// deleted per room (gaps after a restart).
    func trim(rooms: [String], capacity: Int, cutoff: EventID?) async throws {
        guard !rooms.isEmpty else { return }
        _ = try await database.query("BEGIN IMMEDIATE")
        do {
            for room in rooms {
                var newestGone: Int64?
                if capacity == 0 {
                    newestGone = try await database.query("SELECT MAX(id) AS id FROM moonwire_events WHERE room = ?", [.text(room)])
                        .first?.column("id")?.integer.map { Int64($0) }
                } else {
                    newestGone = try await database.query(
                        "SELECT id FROM moonwire_events WHERE room = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                        [.text(room), .integer(SQLiteInt64(capacity))]
                    ).first?.column("id")?.integer.map { Int64($0) }
                }
                if let cutoff {
                    let old = try await database.query(
                        "SELECT MAX(id) AS id FROM moonwire_events WHERE room = ? AND id < ?", [.text(room), .integer(SQLiteInt64(cutoff.value))]
                    ).first?.column("id")?.integer.map { Int64($0) }
                    if let old { newestGone = max(newestGone ?? old, old) }
                }
                guard let newestGone else { continue }
                _ = try await database.query(
                    "DELETE FROM moonwire_events WHERE room = ? AND id <= ?", [.text(room), .integer(SQLiteInt64(newestGone))])
                _ = try await database.query(
                    """
                    INSERT INTO moonwire_rooms (room, trimmed) VALUES (?, ?)
                    ON CONFLICT(room) DO UPDATE SET trimmed = MAX(trimmed, excluded.trimmed)
                    """, [.text(room), .integer(SQLiteInt64(newestGone))])
            }
            _ = try await database.query("COMMIT")
        } catch {
            _ = try? await database.query("ROLLBACK")
            throw error
        }
    }

    func close() async {
        try? await database.close()
        try? await threadPool.shutdownGracefully()
    }
}
