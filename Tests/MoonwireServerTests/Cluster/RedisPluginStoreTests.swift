import Foundation
import MoonwireCore
import MoonwirePlugins
import MoonwireRedis
import NIOCore
import NIOPosix
import Testing

@testable import MoonwireServer

/// `hub.store` in Redis, from hooks that may wait: the call waits for Redis without holding its thread or
/// its Lua state; hooks that cannot wait still get their answer (blocking, as before).
@Suite(.timeLimit(.minutes(1))) struct RedisPluginStoreTests {
    @Test func aHookWaitingForRedisLeavesItsStateToOtherCalls() async throws {
        try await withRedisServer { redis in
            let broker = RedisBroker(options: RedisBroker.Options(endpoint: RedisEndpoint(url: redis.url)!))
            broker.start()
            #expect(await broker.waitUntilConnected(timeout: .seconds(10)))
            let store = RedisPluginStore(client: broker.blocking, keys: broker.keys, quota: PluginStoreQuota())
            let directory = NSTemporaryDirectory() + "moonwire-redis-store-" + RandomID.token(length: 8)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // One state: while the first call waits for Redis (paused for writes), the second runs on it.
            try """
            local waiting = false
            return {
              single_state = true,
              on_publish = function(ctx, event)
                if event.data.slow then
                  waiting = true
                  event.data.n = hub.store.incr("slow")
                  waiting = false
                else
                  event.data.first_was_waiting = waiting
                end
                return event
              end,
              on_deliver = function(recipient, event)
                -- Waits for the round trip too: the fan-out goes on when Redis answers.
                if event.event_type == "message" then hub.store.incr("delivered") end
                return nil
              end }
            """.write(toFile: directory + "/slow.lua", atomically: true, encoding: .utf8)
            let host = PluginHost(options: PluginOptions(directory: directory, limits: .init(callTimeout: .seconds(10)), watch: false), store: store)
            let hub = Hub(configuration: HubConfiguration(), broker: MemoryBroker(historySize: 100), hooks: host)
            host.attach(hub)
            #expect(host.reload(trigger: "test").succeeded)
            let alice = try hub.connect(identity: Identity(userID: "alice"), transport: .webSocket)
            try await hub.join(alice, room: "general", replay: Replay.none)
            let bob = try hub.connect(identity: Identity(userID: "bob"), transport: .webSocket)
            try await hub.join(bob, room: "general", replay: Replay.none)
            func publish(_ data: JSONValue) async throws -> Event {
                try await hub.publish(
                    Event(type: .message, userID: "alice", roomID: "general", data: data),
                    from: PublisherInfo(connection: ConnectionInfo(alice), transport: .webSocket, userID: "alice"), requireKnownType: true)
            }

            // Redis holds writes for 800 ms: the first call's incr waits that long.
            let pause = Process()
            pause.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            pause.arguments = ["redis-cli", "-p", String(redis.port), "CLIENT", "PAUSE", "800", "WRITE"]
            try pause.run()
            pause.waitUntilExit()
            let slow = Task { try await publish(["slow": true]) }
            var second: Event?
            var fast = 0
            for _ in 0..<200 where second?.data["first_was_waiting"] != true {
                try await Task.sleep(for: .milliseconds(5))
                second = try await publish(["fast": true])
                fast += 1
            }
            #expect(second?.data["first_was_waiting"] == true, "a call ran on the state while the first waited for Redis")
            let slowEvent = try await slow.value
            #expect(slowEvent.data["n"] == 1, "\(slowEvent.data)")
            #expect(try store.get("slow", "slow") == 1)
            // on_deliver waits for its incr like any hook: once per delivery to bob.
            var delivered: Int64 = 0
            for _ in 0..<500 {
                delivered = try store.get("slow", "delivered")?.intValue ?? 0
                if delivered >= Int64(fast + 1) { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(delivered == Int64(fast + 1), "one incr per delivery to bob")
            await broker.shutdown()
        }
    }
}
