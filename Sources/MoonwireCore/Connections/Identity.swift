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

    /// Checks a user id a client claims for itself: valid, and not the hub's own `system`.
    public static func validateClaimedUserID(_ userID: String) -> HubError? {
        if let error = validateUserID(userID) { return error }
        if userID == Event.systemUser { return HubError(.invalidField, "user_id '\(userID)' is reserved for the hub") }
        return nil
    }
}
