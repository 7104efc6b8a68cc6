import Testing
@testable import MoonwireCore

@Suite struct HubTests {
    func makeHub(_ configure: (inout HubConfiguration) -> Void = { _ in }) -> Hub {
        var configuration = HubConfiguration()
        configure(&configuration)
        return Hub(configuration: configuration, broker: MemoryBroker(historySize: configuration.historySize))
    }

    /// Drains what is queued on a connection so far (the connection stays open).
    func drain(_ connection: Connection) -> [Event] {
        connection.state.withLock { state in
            defer { state.queue.removeAll(); state.queuedBytes = 0 }
            return state.queue.compactMap { if case .event(let e) = $0 { return e.event } else { return nil } }
        }
    }

    @Test func generalAlwaysExists() {
        let hub = makeHub()
        #expect(hub.room("general") != nil)
    }

    @Test func seedAuthRuleTakesTheClaimedUserID() async throws {
        let hub = makeHub()
        #expect(try await hub.authenticate(ConnectRequest(transport: .webSocket, claimedUserID: "alice")).get().userID == "alice")
        await #expect(throws: HubError.self) { try await hub.authenticate(ConnectRequest(transport: .webSocket)).get() }
    }

    @Test func userLeavesOnlyWhenTheLastConnectionGoes() async throws {
        let hub = makeHub()
        let watcher = try hub.connect(identity: Identity(userID: "watcher"), transport: .webSocket)
        try await hub.join(watcher, room: "general")
        let tab1 = try hub.connect(identity: Identity(userID: "alice"), transport: .webSocket)
        let tab2 = try hub.connect(identity: Identity(userID: "alice"), transport: .sse)
        try await hub.join(tab1, room: "general")
        try await hub.join(tab2, room: "general")
        #expect(drain(watcher).filter { $0.type == .userJoined }.count == 1)
        #expect(try hub.presence(of: "general").first { $0.userID == "alice" }?.connections == 2)

        await hub.disconnect(tab1, reason: .clientClosed)
        #expect(drain(watcher).filter { $0.type == .userLeft }.isEmpty)
        #expect(try hub.presence(of: "general").first { $0.userID == "alice" }?.connections == 1)

        await hub.disconnect(tab2, reason: .clientClosed)
        let left = drain(watcher).filter { $0.type == .userLeft }
        #expect(left.map(\.userID) == ["alice"])
        #expect(try hub.presence(of: "general").map(\.userID) == ["watcher"])
    }

    @Test func bothConnectionsOfOneUserReceive() async throws {
        let hub = makeHub()
        let tab1 = try hub.connect(identity: Identity(userID: "alice"), transport: .webSocket)
        let tab2 = try hub.connect(identity: Identity(userID: "alice"), transport: .webSocket)
        try await hub.join(tab1, room: "general", replay: Replay.none)
        try await hub.join(tab2, room: "general", replay: Replay.none)
        _ = drain(tab1)
        _ = drain(tab2)
        let bob = try hub.connect(identity: Identity(userID: "bob"), transport: .webSocket)
        try await hub.join(bob, room: "general")
        _ = try await hub.publish(
            Event(type: .message, userID: "bob", roomID: "general", data: ["message": "hi"]),
            from: PublisherInfo(connection: ConnectionInfo(bob), transport: .webSocket, userID: "bob"), requireKnownType: true)
        #expect(drain(tab1).filter { $0.type == .message }.count == 1)
        #expect(drain(tab2).filter { $0.type == .message }.count == 1)
        #expect(drain(bob).filter { $0.type == .message }.isEmpty)
    }

    @Test func limitsAnswerWithAReason() async throws {
        let hub = makeHub {
            $0.maxConnections = 2
            $0.maxRooms = 3
            $0.maxRoomsPerConnection = 2
        }
        let a = try hub.connect(identity: Identity(userID: "a"), transport: .webSocket)
        _ = try hub.connect(identity: Identity(userID: "b"), transport: .webSocket)
        #expect(throws: HubError(.connectionLimit, "the hub holds its maximum of 2 connections")) {
            try hub.connect(identity: Identity(userID: "c"), transport: .webSocket)
        }
        try await hub.join(a, room: "one")
        try await hub.join(a, room: "two")
        await #expect(throws: HubError.self) { try await hub.join(a, room: "three") }
        let b2 = hub.connections.first { $0.userID == "b" }!
        try await hub.join(b2, room: "two")
        try await hub.join(b2, room: "one")
        // general, one, two exist; a fourth room is refused.
        await hub.leave(b2, room: "one")
        await #expect(throws: HubError.self) { try await hub.join(b2, room: "four") }
    }

    @Test func serverSidePublishMayUseNewTypesButClientsMayNot() async throws {
        let hub = makeHub()
        let api = PublisherInfo(connection: nil, transport: .http, userID: "api")
        let published = try await hub.publish(
            Event(type: "price_update", userID: "api", roomID: "general", data: ["price": 10]), from: api, requireKnownType: false)
        #expect(published.id != nil)
        let alice = try hub.connect(identity: Identity(userID: "alice"), transport: .webSocket)
        try await hub.join(alice, room: "general")
        await #expect(throws: HubError.self) {
            try await hub.publish(
                Event(type: "price_update", userID: "alice", roomID: "general"),
                from: PublisherInfo(connection: ConnectionInfo(alice), transport: .webSocket, userID: "alice"), requireKnownType: true)
        }
        await #expect(throws: HubError.self) {
            try await hub.publish(Event(type: .userJoined, userID: "api", roomID: "general"), from: api, requireKnownType: false)
        }
    }

    @Test func shutdownClosesConnectionsAndRefusesNewOnes() async throws {
        let hub = makeHub()
        let alice = try hub.connect(identity: Identity(userID: "alice"), transport: .webSocket)
        let pump = Task {
            var transport = RecordingTransport()
            return await hub.serve(alice, over: &transport)
        }
        await hub.shutdown(timeout: .seconds(2))
        #expect(await pump.value == .shutdown)
        #expect(hub.connections.isEmpty)
        #expect(throws: HubError.self) { try hub.connect(identity: Identity(userID: "late"), transport: .webSocket) }
    }
}
