import Foundation
import Logging
import MoonwireCore
import MoonwireRedis
import MoonwireSQLite
import Synchronization

/// The brokers every conformance test runs against.
enum BrokerKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory, sqlite, redis
    var description: String { rawValue }
    /// Whether history outlives the broker instance.
    var isDurable: Bool { self != .memory }
}

/// Collects what a broker delivers.
final class CollectingSink: BrokerSink {
    let events = Mutex<[Event]>([])
    func deliver(_ event: Event) { events.withLock { $0.append(event) } }

    func stored(in room: String) -> [Event] {
        events.withLock { $0.filter { $0.roomID == room && $0.isStored } }
    }
}

/// A broker of one kind with what it stands on (a temporary SQLite file, a Redis server), and a way to
/// open another broker on the same storage (a restarted node, or a second node).
final class BrokerFixture: Sendable {
    let kind: BrokerKind
    let historySize: Int
    let maxAge: Duration?
    let redis: RedisServer?
    let path: String
    let prefix = "test-\(RandomID.token(length: 8))"
    let opened = Mutex<[any Broker]>([])

    private init(kind: BrokerKind, historySize: Int, maxAge: Duration?, redis: RedisServer?) {
        self.kind = kind
        self.historySize = historySize
        self.maxAge = maxAge
        self.redis = redis
        self.path = FileManager.default.temporaryDirectory.appendingPathComponent("moonwire-\(RandomID.token(length: 10)).db").path
    }

    static func make(_ kind: BrokerKind, historySize: Int, maxAge: Duration?) async throws -> BrokerFixture {
        let redis = kind == .redis ? try await RedisServer.start() : nil
        return BrokerFixture(kind: kind, historySize: historySize, maxAge: maxAge, redis: redis)
    }

    /// Opens a broker attached to `sink` (connected, for Redis).
    func open(sink: any BrokerSink) async throws -> any Broker {
        var logger = Logger(label: "moonwire.test.broker")
        logger.logLevel = .critical
        let broker: any Broker
        switch kind {
        case .memory:
            broker = MemoryBroker(historySize: historySize, maxAge: maxAge)
        case .sqlite:
            var options = SQLiteBroker.Options(path: path)
            options.historySize = historySize
            options.maxAge = maxAge
            broker = try await SQLiteBroker.open(options: options, logger: logger)
        case .redis:
            var options = RedisBroker.Options(endpoint: RedisEndpoint(url: redis!.url)!)
            options.keyPrefix = prefix
            options.historySize = historySize
            options.maxAge = maxAge
            options.linger = .milliseconds(200)
            let redisBroker = RedisBroker(options: options, logger: logger)
            redisBroker.attach(sink)
            guard await redisBroker.waitUntilConnected(timeout: .seconds(5)) else {
                throw ProbeError.timeout("the Redis broker to connect")
            }
            opened.withLock { $0.append(redisBroker) }
            return redisBroker
        }
        broker.attach(sink)
        opened.withLock { $0.append(broker) }
        return broker
    }

    /// Shuts down every broker opened and removes what they stood on.
    func close() async {
        for broker in opened.withLock({ $0 }) { await broker.shutdown() }
        try? await redis?.stop()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}

/// Runs `body` with a fresh broker of `kind` (and its sink); cleans up afterwards.
func withBroker(
    _ kind: BrokerKind, historySize: Int = 10, maxAge: Duration? = nil,
    _ body: (any Broker, CollectingSink, BrokerFixture) async throws -> Void
) async throws {
    let fixture = try await BrokerFixture.make(kind, historySize: historySize, maxAge: maxAge)
    do {
        let sink = CollectingSink()
        let broker = try await fixture.open(sink: sink)
        try await body(broker, sink, fixture)
    } catch {
        await fixture.close()
        throw error
    }
    await fixture.close()
}

/// Waits until `condition` holds (every 10 ms), or fails after `timeout`.
func waitUntil(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw ProbeError.timeout(what)
}
