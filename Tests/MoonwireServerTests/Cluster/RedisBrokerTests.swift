import Foundation
import Logging
import MoonwireCore
import MoonwireRedis
import NIOCore
import NIOPosix
import Testing

import MoonwirePlugins
@testable import MoonwireServer

/// What only the Redis broker does: one order for every node, surviving Redis going away, the RESP
/// client itself, and the shared plugin store.
@Suite(.timeLimit(.minutes(1))) struct RedisBrokerTests {
    func message(_ text: String, room: String = "general") -> Event {
        Event(type: .message, userID: "alice", roomID: room, data: ["message": .string(text)])
    }

    @Test func twoNodesSeeEveryEventOnceInOneOrder() async throws {
        try await withBroker(.redis, historySize: 500) { first, firstSink, fixture in
            let secondSink = CollectingSink()
            let second = try await fixture.open(sink: secondSink)
            try await first.subscribe(room: "general")
            try await second.subscribe(room: "general")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, broker) in [first, second].enumerated() {
                    group.addTask {
                        for i in 0..<40 { _ = try await broker.publish(self.message("\(index)-\(i)"), store: true) }
                    }
                }
                try await group.waitForAll()
            }
            try await waitUntil("80 events on both nodes") {
                firstSink.stored(in: "general").count == 80 && secondSink.stored(in: "general").count == 80
            }
            let order = firstSink.stored(in: "general").compactMap(\.id)
            #expect(secondSink.stored(in: "general").compactMap(\.id) == order)
            #expect(zip(order, order.dropFirst()).allSatisfy { $0 < $1 })
            #expect(try await second.history(room: "general", .latest(100)).events.compactMap(\.id) == order)
        }
    }

    @Test func publishesAreRefusedWhileRedisIsDownAndEverythingResumesAfter() async throws {
        try await withBroker(.redis) { broker, sink, fixture in
            let redis = try #require(fixture.redis)
            try await broker.subscribe(room: "general")
            let before = try await broker.publish(message("before"), store: true)
            try await redis.stop()
            try await waitUntil("the broker to notice") { !(await broker.statistics().healthy) }
            // Refused, not queued until Redis is back (a queued publish would not return while it is down).
            await #expect(throws: HubError.self) { _ = try await broker.publish(self.message("during"), store: true) }
            let stats = await broker.statistics()
            #expect(stats.details["publishes_refused"] == 1)
            await #expect(throws: (any Error).self) { _ = try await broker.history(room: "general", .latest(1)) }

            try await redis.start()
            try await waitUntil("the broker to reconnect", timeout: .seconds(10)) { await broker.statistics().healthy }
            let after = try await broker.publish(message("after"), store: true)
            try await waitUntil("the event after the restart") { sink.stored(in: "general").contains { $0.id == after.id } }
            #expect(try #require(after.id) > before.id!, "ids go on increasing over an empty Redis")
            // Redis came back empty: a client that saw `before` is told it missed what was lost.
            #expect(try await broker.history(room: "general", .after(before.id, limit: 10)).gap)
        }
    }

    @Test func aNodeWhosePubSubConnectionDropsCatchesUpInOrder() async throws {
        try await withBroker(.redis, historySize: 500) { broker, sink, fixture in
            let publisherSink = CollectingSink()
            let publisher = try await fixture.open(sink: publisherSink)
            try await broker.subscribe(room: "general")
            _ = try await publisher.publish(message("first"), store: true)
            try await waitUntil("the first event") { sink.stored(in: "general").count == 1 }
            let admin = try await RedisConnection.connect(
                to: RedisEndpoint(url: fixture.redis!.url)!, on: MultiThreadedEventLoopGroupProvider.group)
            defer { admin.close() }
            // Drop every pub/sub connection and publish at once, while the subscriber reconnects.
            try await admin.send(["CLIENT", "KILL", "TYPE", "pubsub"])
            for i in 0..<30 { _ = try await publisher.publish(message("m\(i)"), store: true) }
            try await waitUntil("31 events after the reconnect", timeout: .seconds(10)) { sink.stored(in: "general").count == 31 }
            let ids = sink.stored(in: "general").compactMap(\.id)
            #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
            #expect(ids == (try await publisher.history(room: "general", .latest(100)).events.compactMap(\.id)))
        }
    }

    @Test func theRESPClientPipelinesAndReportsErrors() async throws {
        try await withRedisServer { redis in
            let connection = try await RedisConnection.connect(to: RedisEndpoint(url: redis.url)!, on: MultiThreadedEventLoopGroupProvider.group)
            defer { connection.close() }
            let replies = try await connection.pipeline([
                ["SET", "k", "v"], ["GET", "k"], ["GET", "missing"], ["INCRBY", "n", "41"], ["INCR", "n"],
                ["RPUSH", "l", "a", .bytes([0, 13, 10, 255])], ["LRANGE", "l", "0", "-1"], ["HGET", "k", "f"],
            ])
            #expect(replies[0] == .simpleString("OK"))
            #expect(replies[1].string == "v")
            #expect(replies[2].isNull)
            #expect(replies[4] == .integer(42))
            #expect(replies[6].array?.map(\.bytes) == [Array("a".utf8), [0, 13, 10, 255]])
            guard case .error(let message) = replies[7] else { Issue.record("expected an error reply"); return }
            #expect(message.hasPrefix("WRONGTYPE"))
            await #expect(throws: RedisError.self) { try await connection.send(["NOSUCHCOMMAND"]) }
            // The connection is still usable after an error reply.
            #expect(try await connection.send(["PING"]) == .simpleString("PONG"))
            #expect(RedisEndpoint(url: "redis://:s%40cret@[::1]:7000/3") == RedisEndpoint(host: "::1", port: 7000, database: 3, password: "s@cret"))
            #expect(RedisEndpoint(url: "redis://localhost") == RedisEndpoint(host: "localhost"))
            #expect(RedisEndpoint(url: "http://localhost") == nil)
        }
    }

    @Test func thePluginStoreIsSharedThroughRedis() async throws {
        try await withBroker(.redis) { broker, _, fixture in
            let other = try await fixture.open(sink: CollectingSink())
            let redisBroker = try #require(broker as? RedisBroker)
            let otherBroker = try #require(other as? RedisBroker)
            let one = RedisPluginStore(client: redisBroker.blocking, keys: redisBroker.keys, quota: PluginStoreQuota())
            let two = RedisPluginStore(client: otherBroker.blocking, keys: otherBroker.keys, quota: PluginStoreQuota())
            // Called from a plain thread, as a plugin hook would be (never the client's own loop).
            try await Task.detached {
                try one.set("p", "a", ["x": 1, "s": "é"], ttl: nil)
                #expect(try two.get("p", "a") == ["x": 1, "s": "é"])
                #expect(try one.increment("p", "n", by: 1, ttl: nil) == 1)
                #expect(try two.increment("p", "n", by: 4, ttl: nil) == 5)
                #expect(try one.increment("p", "f", by: 0.5, ttl: nil) == 0.5)
                try one.set("p", "t", true, ttl: 0.2)
                #expect(try two.keys("p") == ["a", "f", "n", "t"])
                #expect(try two.keys("other").isEmpty)
                try two.set("p", "a", nil, ttl: nil)
                #expect(try one.get("p", "a") == nil)
            }.value
            try await Task.sleep(for: .milliseconds(300))
            #expect(try one.get("p", "t") == nil, "expired")
        }
    }
}

/// The event loop group the tests' own Redis connections use.
enum MultiThreadedEventLoopGroupProvider {
    static var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }
}
