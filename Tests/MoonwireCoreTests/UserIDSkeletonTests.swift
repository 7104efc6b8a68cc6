import Testing
@testable import MoonwireCore

/// Look-alikes of the hub's own `system` are refused as user ids; ordinary ids are not.
@Suite struct UserIDSkeletonTests {
    @Test(arguments: [
        "system", "System", "SYSTEM", "system ", " system", "sys tem", "sys\u{200B}tem", "sy\u{00AD}stem", "syste\u{200D}m",
        "\u{FEFF}system", "ѕystem", "systеm", "ЅYЅTЕM", "ｓｙｓｔｅｍ", "𝐬𝐲𝐬𝐭𝐞𝐦", "sÿstem", "s\u{0308}ystem", "ꜱystem",
        "systern", "ѕуѕтем",
    ])
    func lookAlikesOfSystemAreRefused(_ id: String) {
        let error = Identity.validateClaimedUserID(id)
        #expect(error?.code == .invalidField, "\(id.unicodeScalars.map { String($0.value, radix: 16) })")
        #expect(error?.message.contains("reserved") == true)
    }

    @Test(arguments: ["alice", "systems", "sys", "my-system", "système", "ѕystemd", "Bob", "用户", "sistema", "s-y-s-t-e-m"])
    func otherIDsAreAccepted(_ id: String) {
        #expect(Identity.validateClaimedUserID(id) == nil, "\(id)")
    }

    @Test func theSkeletonFoldsCaseWidthMarksAndLookAlikes() {
        #expect(UserIDSkeleton.skeleton("ＡｌＩｃｅ") == "alice")
        #expect(UserIDSkeleton.skeleton("Ḁlice\u{200B}") == "alice")
        #expect(UserIDSkeleton.skeleton("раура") == "paypa")
    }

    @Test func asciiIdsTakeTheSameRulesWithoutUnicodeTables() {
        #expect(UserIDSkeleton.skeleton("Ali Ce\t") == "alice")
        #expect(UserIDSkeleton.skeleton("ba rn") == "bam")
        #expect(UserIDSkeleton.skeleton("rrnn") == "rmn")
        #expect(UserIDSkeleton.skeleton("a\u{7F}b\u{1}c") == "abc")
        #expect(UserIDSkeleton.skeleton("user-42_x.y@z") == "user-42_x.y@z")
    }

    @Test func aPluginIdentityIsCheckedToo() async throws {
        struct Impersonating: HubHooks {
            func authenticate(_ request: ConnectRequest) async -> AuthDecision { .allow(Identity(userID: "Ѕystem")) }
            func authorizeJoin(_ connection: ConnectionInfo, room: String, exists: Bool) async -> JoinDecision { .noOpinion }
            func filterPublish(_ event: Event, from publisher: PublisherInfo) async -> PublishDecision { .pass(event) }
            var filtersDelivery: Bool { false }
            func filterDelivery(_ event: Event, to recipient: ConnectionInfo) -> DeliveryVerdict { .now(.deliver) }
            func didStore(_ event: Event) async {}
            func didLeave(_ connection: ConnectionInfo, room: String, reason: DisconnectReason?) {}
            func didDisconnect(_ connection: ConnectionInfo, reason: DisconnectReason) {}
            func eventType(_ type: EventType) -> CustomEventType? { nil }
        }
        let hub = Hub(configuration: HubConfiguration(), broker: MemoryBroker(historySize: 10), hooks: Impersonating())
        await #expect(throws: HubError.self) { try await hub.authenticate(ConnectRequest(transport: .webSocket, claimedUserID: "x")).get() }
    }
}
