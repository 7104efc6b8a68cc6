/// Who is on the other end of a connection, as established at connect time.
public struct Identity: Sendable, Hashable {
    public var userID: String
    public var roles: [String]
    public var metadata: JSONObject

    public init(userID: String, roles: [String] = [], metadata: JSONObject = [:]) {
        self.userID = userID
        self.roles = roles
        self.metadata = metadata
    }

    /// Checks a user id: 1 to 128 bytes, no control characters.
    public static func validateUserID(_ userID: String) -> HubError? {
        if userID.isEmpty { return HubError(.invalidField, "user_id must not be empty") }
        if userID.utf8.count > 128 { return HubError(.invalidField, "user_id is longer than 128 bytes") }
        if userID.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            return HubError(.invalidField, "user_id must not contain control characters")
        }
        return nil
    }

    /// Checks a user id a client connects as: valid, and neither the hub's own `system` nor anything that
    /// looks like it (`System`, `"system "`, Cyrillic `ѕystem`, fullwidth letters, zero-width characters
    /// inside; see `UserIDSkeleton`).
    public static func validateClaimedUserID(_ userID: String) -> HubError? {
        if let error = validateUserID(userID) { return error }
        if UserIDSkeleton.looksLike(userID, Event.systemUser) {
            return HubError(.invalidField, "user_id '\(userID.prefix(64))' is reserved for the hub (it reads as '\(Event.systemUser)')")
        }
        return nil
    }

    /// Checks connection metadata: its compact JSON may take at most `limit` bytes.
    public static func validateMetadata(_ metadata: JSONObject, limit: Int) -> HubError? {
        guard !metadata.isEmpty else { return nil }
        let size = JSONWriter.bytes(.object(metadata)).count
        guard size > limit else { return nil }
        return HubError(
            .payloadTooLarge, "metadata of \(size) bytes is over the limit of \(limit) bytes (limits.max_metadata_bytes)")
    }
}
