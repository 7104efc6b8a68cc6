import HTTPTypes
import Hummingbird
import MoonwireCore

extension Request {
    /// A query parameter, percent-decoded; `nil` when absent.
    func query(_ name: String) -> String? {
        uri.queryParameters.get(name)
    }

    /// Every query parameter (the last value of a repeated one).
    var queryDictionary: [String: String] { RequestQuery(self).values }

    /// Headers as a dictionary with lowercased names (repeated headers joined by commas).
    var headerDictionary: [String: String] {
        Self.headerDictionary(headers.map { ($0.name.canonicalName, $0.value) })
    }

    /// Header fields (names in lower case) as plugins see them: a repeated header's values joined by commas.
    static func headerDictionary(_ fields: [(name: String, value: String)]) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in fields {
            if let existing = result[name] { result[name] = existing + ", " + value } else { result[name] = value }
        }
        return result
    }

    /// A bearer token from `Authorization`, else the `token` query parameter.
    var bearerToken: String? { authorizationBearer ?? query("token") }

    /// The token of an `Authorization: Bearer …` header.
    var authorizationBearer: String? { Self.bearer(fromAuthorization: headers[.authorization]) }

    /// The token of an `Authorization: Bearer …` header's value.
    static func bearer(fromAuthorization authorization: String?) -> String? {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return nil }
        return String(authorization.dropFirst(7)).trimming(" ")
    }

    /// Reads the body as a JSON object, within `limit` bytes. An empty body reads as `{}`.
    mutating func jsonObjectBody(limit: Int) async throws(HubError) -> JSONObject {
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(upTo: limit)
        } catch {
            throw HubError(.payloadTooLarge, "request body is larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { return [:] }
        let value: JSONValue
        do {
            value = try JSONParser().parse(buffer.readableBytesView)
        } catch {
            throw HubError(.badRequest, "body is not valid JSON: \(error)")
        }
        guard let object = value.objectValue else {
            throw HubError(.badRequest, "body must be a JSON object, got \(value.typeName)")
        }
        return object
    }
}

extension MoonwireRequestContext {
    /// A path parameter with `%XX` escapes decoded (so `team%2Fa` names the room `team/a`).
    func pathParameter(_ name: String) -> String {
        let raw = parameters.get(name) ?? ""
        return raw.percentDecoded ?? raw
    }
}
