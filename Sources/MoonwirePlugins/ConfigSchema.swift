import MoonwireCore

/// A plugin's config schema: `config = { key = { type = "string", default = ..., required = true, min = .., max = .., enum = {..} } }`.
struct ConfigSchema: Sendable {
    struct Field: Sendable {
        var type: String
        var defaultValue: JSONValue?
        var required: Bool
        var min: Double?
        var max: Double?
        var allowed: [JSONValue]?
        var description: String?
        /// Shown as "***" by the API.
        var secret: Bool
    }

    var fields: [(name: String, field: Field)]

    static let types: Set<String> = ["string", "number", "integer", "boolean", "array", "object", "any"]

    /// Reads the schema from the plugin table's `config` value.
    static func parse(_ value: JSONValue?, plugin: String) throws(PluginError) -> ConfigSchema {
        guard let value, !value.isNull else { return ConfigSchema(fields: []) }
        guard let object = value.objectValue else {
            throw PluginError.invalid(plugin, "'config' must be a table of key = { type = ... }")
        }
        var fields: [(String, Field)] = []
        for (name, spec) in object.members.sorted(by: { $0.key < $1.key }) {
            guard let spec = spec.objectValue else {
                throw PluginError.invalid(plugin, "config key '\(name)' must be described by a table like { type = \"string\" }")
            }
            let type = spec["type"]?.stringValue ?? "any"
            guard types.contains(type) else {
                throw PluginError.invalid(plugin, "config key '\(name)': unknown type '\(type)' (use \(types.sorted().joined(separator: ", ")))")
            }
            var field = Field(
                type: type, defaultValue: spec["default"], required: spec["required"]?.boolValue ?? false,
                min: spec["min"]?.doubleValue, max: spec["max"]?.doubleValue, allowed: spec["enum"]?.arrayValue,
                description: spec["description"]?.stringValue, secret: spec["secret"]?.boolValue ?? false)
            field.defaultValue = field.defaultValue.map { normalized($0, for: field) }
            if let defaultValue = field.defaultValue, let problem = check(defaultValue, against: field) {
                throw PluginError.invalid(plugin, "config key '\(name)': default \(problem)")
            }
            fields.append((name, field))
        }
        return ConfigSchema(fields: fields)
    }

    /// Checks `settings` and fills in defaults. Errors name the plugin, the key and the problem.
    func validate(_ settings: JSONObject, plugin: String) throws(PluginError) -> JSONObject {
        var result = JSONObject()
        for (key, _) in settings where !fields.contains(where: { $0.name == key }) {
            let known = fields.map(\.name)
            let hint = known.isEmpty ? " (the plugin takes no settings)" : " (known keys: \(known.joined(separator: ", ")))"
            throw PluginError.config(plugin, key, "unknown key\(hint)")
        }
        for (name, field) in fields {
            if let value = settings[name].map({ Self.normalized($0, for: field) }) {
                if let problem = Self.check(value, against: field) { throw PluginError.config(plugin, name, problem) }
                result[name] = value
            } else if let defaultValue = field.defaultValue {
                result[name] = defaultValue
            } else if field.required {
                throw PluginError.config(plugin, name, "is required")
            }
        }
        return result
    }

    /// An empty Lua table reads as an empty object; for an array field it is an empty array.
    static func normalized(_ value: JSONValue, for field: Field) -> JSONValue {
        if field.type == "array", let object = value.objectValue, object.isEmpty { return .array([]) }
        return value
    }

    static func check(_ value: JSONValue, against field: Field) -> String? {
        let matches: Bool
        switch field.type {
        case "string": matches = value.stringValue != nil
        case "number": matches = value.doubleValue != nil
        case "integer": matches = value.intValue != nil
        case "boolean": matches = value.boolValue != nil
        case "array": matches = value.arrayValue != nil
        case "object": matches = value.objectValue != nil
        default: matches = true
        }
        let article = ["integer", "array", "object", "any"].contains(field.type) ? "an" : "a"
        guard matches else { return "must be \(article) \(field.type), got \(value.typeName)" }
        if let number = value.doubleValue {
            if let min = field.min, number < min { return "must be at least \(format(min)), got \(format(number))" }
            if let max = field.max, number > max { return "must be at most \(format(max)), got \(format(number))" }
        }
        if let text = value.stringValue {
            if let min = field.min, Double(text.count) < min { return "must be at least \(format(min)) characters long" }
            if let max = field.max, Double(text.count) > max { return "must be at most \(format(max)) characters long" }
        }
        if let allowed = field.allowed, !allowed.contains(value) {
            return "must be one of \(allowed.map { JSONWriter.string($0) }.joined(separator: ", ")), got \(JSONWriter.string(value))"
        }
        return nil
    }

    private static func format(_ d: Double) -> String {
        d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }

    /// `config` with secret settings masked.
    func masked(_ config: JSONObject) -> JSONObject {
        var result = config
        for (name, field) in fields where field.secret && result[name] != nil { result[name] = "***" }
        return result
    }

    /// The schema as JSON (for `GET /api/plugins` and `moonwire plugins check`).
    var json: JSONValue {
        .object(JSONObject(fields.map { name, field in
            var spec: JSONObject = ["type": .string(field.type), "required": .bool(field.required)]
            if let defaultValue = field.defaultValue { spec["default"] = defaultValue }
            if let description = field.description { spec["description"] = .string(description) }
            return (name, .object(spec))
        }))
    }
}
