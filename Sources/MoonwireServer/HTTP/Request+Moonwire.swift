import HTTPTypes
import Hummingbird
import MoonwireCore

extension Request {
    /// A query parameter, percent-decoded; `nil` when absent.
    func query(_ name: String) -> String? {
        uri.queryParameters.get(name)
    }

    /// Every query parameter (the last value of a repeated one).
    var queryDictionary: [String: String] {
        var result: [String: String] = [:]
        for (key, value) in uri.queryParameters {
            result[String(key)] = String(value)
        }
        return result
    }

    /// Headers as a dictionary with lowercased names (repeated headers joined by commas).
    var headerDictionary: [String: String] {
        var result: [String: String] = [:]
        for field in headers {
            let name = field.name.canonicalName
            if let existing = result[name] { result[name] = existing + ", " + field.value } else { result[name] = field.value }
        }
        return result
    }

    /// The rooms named by `rooms=a,b` and/or `room=a&room=b`; `nil` when none is named.
    var requestedRooms: [String]? {
        var rooms: [String] = []
        for value in uri.queryParameters.getAll("rooms") {
            rooms.append(contentsOf: value.split(separator: ",").map { String($0).trimming(" ") })
        }
        rooms.append(contentsOf: uri.queryParameters.getAll("room").map { String($0) })
        rooms = rooms.filter { !$0.isEmpty }
        var seen = Set<String>()
        rooms = rooms.filter { seen.insert($0).inserted }
        return rooms.isEmpty ? nil : rooms
    }

    /// A bearer token from `Authorization`, else the `token` query parameter.
    var bearerToken: String? {
        if let authorization = headers[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            return String(authorization.dropFirst(7)).trimming(" ")
        }
        return query("token")
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
