import Crypto
import Foundation
import LuaRuntime
import MoonwireCore

/// JSON, base64, hashing and JWT helpers of the `hub` module.
extension HubModule {
    static func data() -> [(String, LuaHostFunction)] {
        [
            ("json.encode", { call throws(LuaCallError) in [.string(JSONWriter.string(try call.json(1)))] }),
            ("json.decode", { call throws(LuaCallError) in
                let text = try call.string(1)
                // What the parser would build in Swift is bounded before it is built: at most one value per
                // structural character.
                var values = 1
                for byte in text.utf8 where structuralBytes.contains(byte) { values += 1 }
                guard values <= maxDecodedValues else {
                    throw LuaCallError("hub.json.decode: the document may hold more than \(maxDecodedValues) values")
                }
                do {
                    return [.json(try JSONParser().parse(text))]
                } catch {
                    return [.nilValue, .string("invalid JSON: \(error)")]
                }
            }),
            ("base64.encode", { call throws(LuaCallError) in [.string(Data(try call.string(1).utf8).base64EncodedString())] }),
            ("base64.decode", { call throws(LuaCallError) in
                guard let data = Data(base64Encoded: try call.string(1)) else { return [.nilValue, .string("invalid base64")] }
                return [.string(String(decoding: data, as: UTF8.self))]
            }),
            ("base64.url_encode", { call throws(LuaCallError) in [.string(base64URL(Data(try call.string(1).utf8)))] }),
            ("base64.url_decode", { call throws(LuaCallError) in
                guard let data = dataFromBase64URL(try call.string(1)) else { return [.nilValue, .string("invalid base64url")] }
                return [.string(String(decoding: data, as: UTF8.self))]
            }),
            ("crypto.sha256", { call throws(LuaCallError) in
                [.string(hex(SHA256.hash(data: Data(try call.string(1).utf8))))]
            }),
            ("crypto.hmac_sha256", { call throws(LuaCallError) in
                let key = SymmetricKey(data: Data(try call.string(1).utf8))
                let mac = HMAC<SHA256>.authenticationCode(for: Data(try call.string(2).utf8), using: key)
                return [.string(hex(mac))]
            }),
            ("jwt.verify", { call throws(LuaCallError) in
                let token = try call.string(1)
                let secret = try call.string(2)
                let leeway = call.isNil(3) ? 0 : try call.number(3)
                switch JWT.verifyHS256(token, secret: secret, leeway: leeway, now: Timestamp.now().seconds) {
                case .success(let claims): return [.json(.object(claims))]
                case .failure(let error): return [.nilValue, .string(error.message)]
                }
            }),
        ]
    }

    /// Most values `hub.json.decode` builds from one document.
    static let maxDecodedValues = 200_000
    /// `,` `[` `{`: a JSON document holds at most one value more than it has of these.
    static let structuralBytes: Set<UInt8> = [0x2C, 0x5B, 0x7B]

    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func dataFromBase64URL(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64)
    }
}

/// HS256 JSON Web Tokens.
enum JWT {
    struct Failure: Error { let message: String }

    /// Verifies signature, algorithm, `exp` and `nbf`; returns the claims.
    static func verifyHS256(_ token: String, secret: String, leeway: Double, now: Double) -> Result<JSONObject, Failure> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(Failure(message: "malformed token")) }
        guard let headerData = HubModule.dataFromBase64URL(String(parts[0])),
            let header = (try? JSONParser().parse(Array(headerData)))?.objectValue
        else { return .failure(Failure(message: "malformed token header")) }
        guard header["alg"]?.stringValue == "HS256" else { return .failure(Failure(message: "unsupported algorithm (HS256 only)")) }
        guard let signature = HubModule.dataFromBase64URL(String(parts[2])) else {
            return .failure(Failure(message: "malformed signature"))
        }
        let key = SymmetricKey(data: Data(secret.utf8))
        let signed = Data("\(parts[0]).\(parts[1])".utf8)
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: key) else {
            return .failure(Failure(message: "bad signature"))
        }
        guard let payloadData = HubModule.dataFromBase64URL(String(parts[1])),
            let claims = (try? JSONParser().parse(Array(payloadData)))?.objectValue
        else { return .failure(Failure(message: "malformed claims")) }
        if let exp = claims["exp"]?.doubleValue, now > exp + leeway { return .failure(Failure(message: "token expired")) }
        if let nbf = claims["nbf"]?.doubleValue, now + leeway < nbf { return .failure(Failure(message: "token not yet valid")) }
        return .success(claims)
    }

    /// Signs claims (for tests and tools).
    static func signHS256(_ claims: JSONObject, secret: String) -> String {
        let header = HubModule.base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let payload = HubModule.base64URL(Data(JSONWriter.bytes(.object(claims))))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "\(header).\(payload).\(HubModule.base64URL(Data(mac)))"
    }
}
