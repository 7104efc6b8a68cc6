import Hummingbird
import MoonwireCore
import MoonwirePlugins

/// `GET /api/plugins` (every plugin with version, source hash, load time, last error and per-hook counters),
/// `POST /api/plugins/reload`, `PUT /api/plugins/{name}/settings` and the shadow routes
/// (`/api/plugins/{name}/shadow`: POST a candidate, GET the comparison, POST `…/promote`, DELETE).
struct PluginEndpoints: Sendable {
    let host: PluginHost?
    let apiKey: APIKeyCheck
    /// The largest request body read.
    let maxBodyBytes: Int

    func register(on router: Router<MoonwireRequestContext>) {
        router.get("/api/plugins") { request, _ in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                return HTTPResponses.json(listing())
            }
        }
        router.post("/api/plugins/reload") { request, _ in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                guard let host else { throw HubError(.notFound, "plugins are off (plugins.directory is empty)") }
                let report = host.reload(trigger: "API")
                return HTTPResponses.json(Self.json(report), status: report.succeeded ? .ok : .unprocessableContent)
            }
        }
        router.post("/api/plugins/:name/shadow") { request, context in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                let host = try self.plugins()
                let name = context.parameters.get("name") ?? ""
                var request = request
                let body: ByteBuffer
                do {
                    body = try await request.collectBody(upTo: maxBodyBytes)
                } catch {
                    throw HubError(.payloadTooLarge, "request body is larger than \(maxBodyBytes) bytes")
                }
                guard body.readableBytes > 0 else { throw HubError(.missingField, "the body is the candidate's Lua source") }
                switch host.startShadow(of: name, text: String(buffer: body)) {
                case .success(let shadow): return HTTPResponses.json(shadow.json, status: .created)
                case .failure(let error): return Self.response(error, name: name)
                }
            }
        }
        router.get("/api/plugins/:name/shadow") { request, context in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                let name = context.parameters.get("name") ?? ""
                guard let shadow = try self.plugins().shadow(of: name) else { throw HubError(.notFound, "plugin '\(name.prefix(64))' has no shadow") }
                return HTTPResponses.json(shadow.json)
            }
        }
        router.post("/api/plugins/:name/shadow/promote") { request, context in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                let name = context.parameters.get("name") ?? ""
                switch try self.plugins().promoteShadow(of: name) {
                case .success(let report): return HTTPResponses.json(Self.json(report), status: report.succeeded ? .ok : .unprocessableContent)
                case .failure(let error): return Self.response(error, name: name)
                }
            }
        }
        router.delete("/api/plugins/:name/shadow") { request, context in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                let name = context.parameters.get("name") ?? ""
                guard try self.plugins().discardShadow(of: name) else { throw HubError(.notFound, "plugin '\(name.prefix(64))' has no shadow") }
                return HTTPResponses.json(["plugin": .string(name), "discarded": true])
            }
        }
        router.put("/api/plugins/:name/settings") { request, context in
            await respond { () throws(HubError) in
                try apiKey.verify(request)
                guard let host else { throw HubError(.notFound, "plugins are off (plugins.directory is empty)") }
                let name = context.parameters.get("name") ?? ""
                var request = request
                let changes = try await request.jsonObjectBody(limit: maxBodyBytes)
                switch host.changeSettings(of: name, changes) {
                case .success(let settings):
                    return HTTPResponses.json(["plugin": .string(name), "settings": .object(settings)])
                case .failure(.noSuchPlugin):
                    throw HubError(.notFound, "no plugin named '\(name.prefix(64))' is loaded")
                case .failure(.refused(let message)):
                    let error: JSONValue = ["error": ["code": "invalid_field", "message": .string(message)]]
                    return HTTPResponses.json(error, status: .unprocessableContent)
                }
            }
        }
    }

    /// The host, or `404` when plugins are off.
    private func plugins() throws(HubError) -> PluginHost {
        guard let host else { throw HubError(.notFound, "plugins are off (plugins.directory is empty)") }
        return host
    }

    /// A refused change: `404` for a plugin (or shadow) that is not there, `422` with the reason otherwise.
    private static func response(_ error: PluginHost.PluginChangeError, name: String) -> Response {
        switch error {
        case .noSuchPlugin:
            return HTTPResponses.json(["error": ["code": "not_found", "message": .string("no plugin (or shadow) named '\(name.prefix(64))'")]], status: .notFound)
        case .refused(let message):
            return HTTPResponses.json(["error": ["code": "invalid_field", "message": .string(message)]], status: .unprocessableContent)
        }
    }

    private func listing() -> JSONValue {
        guard let host else { return ["enabled": false, "plugins": [], "errors": [:]] }
        let failures = host.lastFailures
        let plugins: [JSONValue] = host.plugins.map { plugin in
            var hooks = JSONObject()
            for (hook, counters) in plugin.statistics.snapshot.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                hooks[hook.rawValue] = [
                    "calls": .int(Int64(counters.calls)), "errors": .int(Int64(counters.errors)),
                    "limit_hits": .int(Int64(counters.limitHits)), "seconds": .double(Double(counters.nanoseconds) / 1e9),
                    "median_us": .double(Double(counters.medianNanoseconds) / 1e3),
                    "p99_us": .double(Double(counters.p99Nanoseconds) / 1e3),
                    "failures": .object(JSONObject(counters.failures.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key.rawValue, .int(Int64($0.value))) })),
                ]
            }
            var entry: JSONObject = [
                "name": .string(plugin.name),
                "version": .string(plugin.version),
                "priority": .int(Int64(plugin.priority)),
                "description": plugin.summary.map { .string($0) } ?? .null,
                "settings_schema": plugin.settingsSchema,
                "path": .string(plugin.source.path),
                "source_sha256": .string(plugin.source.hash),
                "loaded_at": .double(plugin.loadedAt.seconds),
                "hooks": .array(plugin.hooks.map(\.rawValue).sorted().map { .string($0) }),
                "event_types": .object(JSONObject(plugin.eventTypes.sorted { $0.key < $1.key }.map { ($0.key, ["stored": .bool($0.value.stored), "from": .string($0.value.from)]) })),
                "config": .object(plugin.publicConfig),
                "stats": .object(hooks),
            ]
            entry["last_error"] = failures[plugin.name].map(Self.json) ?? .null
            entry["last_runtime_error"] = plugin.statistics.lastFailure.map(Self.json) ?? .null
            entry["quarantined"] = .bool(plugin.isQuarantined)
            entry["timers"] = .int(Int64(host.timerCount(of: plugin.name)))
            entry["quarantines"] = .int(Int64(plugin.statistics.quarantines))
            entry["states"] = .int(Int64(plugin.stateCount))
            entry["memory_bytes"] = .int(Int64(plugin.memoryUsed))
            let dropped = plugin.statistics.droppedPublishes.sorted { $0.key.rawValue < $1.key.rawValue }
            entry["publishes_dropped"] = .object(JSONObject(dropped.map { ($0.key.rawValue, .int(Int64($0.value))) }))
            return .object(entry)
        }
        let loaded = Set(host.plugins.map(\.name))
        let orphans = failures.filter { !loaded.contains($0.key) }.sorted { $0.key < $1.key }
        return [
            "enabled": true,
            "directory": .string(host.options.directory),
            "reloads": .int(Int64(host.reloads)),
            "plugins": .array(plugins),
            "errors": .object(JSONObject(orphans.map { ($0.key, Self.json($0.value)) })),
        ]
    }

    private static func json(_ failure: PluginFailure) -> JSONValue {
        ["path": .string(failure.path), "message": .string(failure.message), "at": .double(failure.at.seconds)]
    }

    private static func json(_ failure: PluginRuntimeError) -> JSONValue {
        [
            "hook": .string(failure.hook.rawValue), "version": .string(failure.version), "reason": .string(failure.reason.rawValue),
            "message": .string(failure.message), "location": failure.location.map { .string($0) } ?? .null, "at": .double(failure.at.seconds),
        ]
    }

    static func json(_ report: ReloadReport) -> JSONValue {
        [
            "loaded": .array(report.loaded.map { .string($0) }),
            "reloaded": .array(report.reloaded.map { .string($0) }),
            "unchanged": .array(report.unchanged.map { .string($0) }),
            "unloaded": .array(report.unloaded.map { .string($0) }),
            "failed": .array(report.failed.map { ["plugin": .string($0.plugin), "message": .string($0.message)] }),
            "warnings": .array(report.warnings.map { ["plugin": .string($0.plugin), "message": .string($0.message)] }),
        ]
    }
}
