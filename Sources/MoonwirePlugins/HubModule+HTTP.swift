import Foundation
import LuaRuntime
import MoonwireCore

/// `hub.http.request{method, url, headers, body, timeout}`: an HTTP request to a host the plugin's table
/// allows. The call waits for the answer without holding a thread; it returns `{status, headers, body}`,
/// or `nil` and the reason (refused host, timeout, too large, connection failed).
extension HubModule {
    static func http(_ context: PluginStateContext) -> [(String, LuaHostFunction)] {
        [
            ("http.request", { call throws(LuaCallError) in
                let request = try httpRequest(call)
                guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                    let host = url.host, !host.isEmpty
                else {
                    throw LuaCallError("hub.http.request: url must be an http:// or https:// URL with a host, got '\(request.url.prefix(200))'")
                }
                let port = url.port ?? (scheme == "https" ? 443 : 80)
                let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
                guard context.version.httpPolicy.allows(host: bare, port: port) else {
                    return PluginHTTPClient.failure("refused: \(host):\(port) is not in this plugin's http.allow")
                }
                guard call.canSuspend else {
                    return PluginHTTPClient.failure(
                        "cannot wait here: on_load and on_unload run without waiting (start a timer, hub.after(0.01, fn), to"
                            + " call hub.http.request from there), and so does a coroutine of the plugin's own")
                }
                let maxBytes = context.host.options.httpMaxResponseBytes
                return try call.suspend(PluginWait { deadline in
                    .values(await PluginHTTPClient.perform(request, deadline: deadline, maxResponseBytes: maxBytes))
                })
            })
        ]
    }

    /// Reads and checks the request table.
    private static func httpRequest(_ call: LuaCall) throws(LuaCallError) -> PluginHTTPClient.Request {
        guard case .object(let options) = try call.json(1) else {
            throw LuaCallError("hub.http.request: the argument must be a table like { url = \"http://...\", method = \"GET\" }")
        }
        let known: Set<String> = ["method", "url", "headers", "body", "timeout"]
        if let unknown = options.keys.first(where: { !known.contains($0) }) {
            throw LuaCallError("hub.http.request: unknown field '\(unknown)' (fields: method, url, headers, body, timeout)")
        }
        guard case .string(let url)? = options["url"] else { throw LuaCallError("hub.http.request: url is required (a string)") }
        var method = "GET"
        if let value = options["method"] {
            guard case .string(let name) = value, !name.isEmpty, name.count <= 16, name.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                throw LuaCallError("hub.http.request: method must be a name like \"GET\" or \"POST\"")
            }
            method = name.uppercased()
        }
        var headers: [(String, String)] = []
        switch options["headers"] {
        case nil: break
        case .object(let table)?:
            for (name, value) in table {
                guard case .string(let text) = value else { throw LuaCallError("hub.http.request: header '\(name)' must be a string") }
                guard !name.isEmpty, !(name + text).contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                    throw LuaCallError("hub.http.request: header '\(name.prefix(64))' has a line break or NUL")
                }
                headers.append((name, text))
            }
        case .array(let items)? where items.isEmpty: break
        default: throw LuaCallError("hub.http.request: headers must be a table of name = value")
        }
        var body: String?
        switch options["body"] {
        case nil: break
        case .string(let text)?: body = text
        default: throw LuaCallError("hub.http.request: body must be a string (hub.json.encode a table first)")
        }
        var timeout = PluginHTTPClient.defaultTimeout
        if let value = options["timeout"] {
            guard let seconds = value.doubleValue, seconds.isFinite, seconds > 0, seconds <= 60 else {
                throw LuaCallError("hub.http.request: timeout must be a number of seconds, more than 0 and at most 60")
            }
            timeout = .nanoseconds(Int64(seconds * 1e9))
        }
        return PluginHTTPClient.Request(method: method, url: url, headers: headers, body: body, timeout: timeout)
    }
}
