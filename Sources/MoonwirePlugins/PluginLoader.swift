import LuaRuntime
import MoonwireCore

/// Compiles a plugin source in a fresh state, reads its table and validates its settings. The result is
/// not active yet: the host calls `on_load` and swaps it in.
struct PluginLoader {
    let host: PluginHost
    let options: PluginOptions

    /// Plugin names: a lowercase letter, then lowercase letters, digits, `_` or `-`.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.count <= 64 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    func load(_ source: PluginSource, shadow: Bool = false, statistics: (String) -> PluginStatistics) throws(PluginError) -> Plugin {
        guard Self.isValidName(source.fileName) else {
            throw .invalid(
                source.fileName, "\(source.path): a plugin's file (or folder) name must start with a lowercase letter and hold only a-z, 0-9, _ and -")
        }
        let context = PluginContext(host: host, name: source.fileName, isShadow: shadow)
        let first = PluginStateContext(version: context, index: 0)
        let (state, table) = try compile(source, context: first)
        // Manifest. A plugin is named by its file: its settings, store and timers follow the file name, so a
        // file cannot take another plugin's identity (and its secrets) by declaring its name.
        let name = source.fileName
        switch state.field(table, "name") {
        case .none: break
        case .value(.string(let declared)) where declared == name: break
        case .value(.string(let declared)):
            throw .invalid(name, "declares name '\(declared)', but a plugin is named by its file (\(source.path)): remove 'name' or rename the file")
        default: throw .invalid(name, "'name' must be a string")
        }
        let version: String
        switch state.field(table, "version") {
        case .none: version = "0"
        case .value(.string(let value)): version = value
        case .value(let number) where number.doubleValue != nil: version = JSONWriter.string(number)
        default: throw .invalid(name, "'version' must be a string")
        }
        let summary: String?
        switch state.field(table, "description") {
        case .none: summary = nil
        case .value(.string(let value)): summary = value
        default: throw .invalid(name, "'description' must be a string")
        }
        let priority: Int
        switch state.field(table, "priority") {
        case .none: priority = 0
        case .value(let value) where value.intValue != nil: priority = Int(value.intValue!)
        default: throw .invalid(name, "'priority' must be an integer")
        }

        // Hooks
        let hooks = try readHooks(state, table, plugin: name)
        let known = Set(PluginHook.tableHooks.map(\.rawValue))
        if let unknown = state.keys(table).first(where: { $0.hasPrefix("on_") && !known.contains($0) }) {
            throw .invalid(name, "unknown hook '\(unknown)' (hooks: \(PluginHook.tableHooks.map(\.rawValue).joined(separator: ", ")))")
        }
        let singleState: Bool
        switch state.field(table, "single_state") {
        case .none: singleState = false
        case .bool(let value): singleState = value
        default: throw .invalid(name, "'single_state' must be a boolean")
        }

        // Custom event types
        let (types, stored) = try readTypes(state, table, plugin: name)

        // Settings
        let schemaValue: JSONValue?
        switch state.field(table, "config") {
        case .none: schemaValue = nil
        case .value(let value): schemaValue = value
        default: throw .invalid(name, "'config' must be a table describing the plugin's settings")
        }
        let schema = try ConfigSchema.parse(schemaValue, plugin: name)
        let config = try schema.validate(host.settings(for: name), plugin: name)
        switch state.field(table, "http") {
        case .none: context.httpPolicy = .none
        case .value(let value): context.httpPolicy = try PluginHTTPPolicy.parse(value, plugin: name)
        default: throw .invalid(name, "'http' must be a table like http = { allow = { \"127.0.0.1:8000\" } }")
        }

        let stateCount = singleState ? 1 : options.resolvedStatesPerPlugin
        var vms = [PluginVM(state: state, table: table, hooks: hooks, types: types, context: first, deliverCache: nil)]
        for index in 1..<stateCount {
            let stateContext = PluginStateContext(version: context, index: index)
            let (other, otherTable) = try compile(source, context: stateContext)
            let otherHooks = try readHooks(other, otherTable, plugin: name)
            let (otherTypes, _) = try readTypes(other, otherTable, plugin: name)
            guard Set(otherHooks.keys) == Set(hooks.keys), Set(otherTypes.keys) == Set(types.keys) else {
                throw .invalid(name, "returned a different table in its second Lua state (hooks or types depend on chance): set single_state = true")
            }
            vms.append(PluginVM(state: other, table: otherTable, hooks: otherHooks, types: otherTypes, context: stateContext, deliverCache: nil))
        }
        for (index, vm) in vms.enumerated() {
            vm.state.setModuleField("hub", "config", .json(.object(config)))
            vm.state.setModuleField(
                "hub", "plugin",
                .json(["name": .string(name), "version": .string(version), "state": .int(Int64(index + 1)), "states": .int(Int64(stateCount))]))
        }

        let plugin = Plugin(
            name: name, version: version, summary: summary, priority: priority, source: source, hooks: Set(hooks.keys), eventTypes: stored,
            config: config, schema: schema, statistics: statistics(name), context: context, timing: options.timing, vms: vms)
        context.attach(plugin)
        return plugin
    }

    /// Compiles and runs the source in a fresh state with the `hub` module; the state and the plugin table.
    private func compile(_ source: PluginSource, context: PluginStateContext) throws(PluginError) -> (LuaState, LuaRef) {
        let state: LuaState
        do {
            state = try LuaState(limits: options.limits)
        } catch {
            throw .load(source.fileName, "cannot create a Lua state: \(error)")
        }
        HubModule.install(into: state, context: context)
        do {
            try installRequire(source.libraries, into: state)
            guard let ref = try state.run(source: source.text, chunkName: source.path), state.type(of: ref) == .table else {
                throw PluginError.invalid(source.fileName, "\(source.path) must return the plugin table (return { name = ..., on_publish = ... })")
            }
            return (state, ref)
        } catch let error as PluginError {
            throw error
        } catch let error as LuaError {
            throw .load(source.fileName, error.detailed)
        } catch {
            throw .load(source.fileName, "\(error)")
        }
    }

    /// Defines `require(name)`: runs `lib/NAME.lua` once per state (in the plugin's sandbox, under the
    /// call's limits) and returns what it returned (`true` if nothing). A module that does not compile
    /// fails the `require` that asks for it, not the plugins that do not use it.
    private func installRequire(_ libraries: [PluginLibrary], into state: LuaState) throws(LuaError) {
        var arguments: [LuaValue] = []
        var chunks: [LuaRef] = []
        defer { chunks.forEach(state.release) }
        for library in libraries {
            do {
                let chunk = try state.compile(source: library.text, chunkName: library.path)
                chunks.append(chunk)
                arguments += [.string(library.name), .ref(chunk)]
            } catch {
                // Raised by the `require` that asks for it: a broken module breaks only its users.
                arguments += [.string(library.name), .string(error.detailed)]
            }
        }
        guard let installer = try state.run(source: Self.requirePrelude, chunkName: "=require") else { return }
        defer { state.release(installer) }
        if case .failure(let error) = state.call(installer, arguments, results: 0) { throw error }
    }

    /// Returns the function that defines `require` from (name, compiled module) pairs.
    static let requirePrelude = """
        return function(...)
          local chunks, loaded, loading = {}, {}, {}
          local pairs_ = table.pack(...)
          for i = 1, pairs_.n, 2 do chunks[pairs_[i]] = pairs_[i + 1] end
          require = function(name)
            if type(name) ~= "string" then error("require: the module name must be a string", 2) end
            local value = loaded[name]
            if value ~= nil then return value end
            local chunk = chunks[name]
            if chunk == nil then error("module '" .. name .. "' not found: modules are the files of the plugins directory's lib/ folder (lib/" .. name .. ".lua)", 2) end
            if type(chunk) == "string" then error(chunk, 2) end
            if loading[name] then error("module '" .. name .. "' requires itself (directly or through another module)", 2) end
            loading[name] = true
            value = chunk(name)
            loading[name] = nil
            if value == nil then value = true end
            loaded[name] = value
            return value
          end
        end
        """

    /// The hook functions the plugin table defines.
    private func readHooks(_ state: LuaState, _ table: LuaRef, plugin name: String) throws(PluginError) -> [PluginHook: LuaRef] {
        var hooks: [PluginHook: LuaRef] = [:]
        for hook in PluginHook.tableHooks {
            guard let type = state.fieldType(table, hook.rawValue), type != .nil else { continue }
            guard type == .function, let ref = state.fieldRef(table, hook.rawValue, ofType: .function) else {
                throw .invalid(name, "'\(hook.rawValue)' must be a function")
            }
            hooks[hook] = ref
        }
        return hooks
    }

    /// The custom event types the plugin table registers: their functions, and whether each is stored.
    private func readTypes(
        _ state: LuaState, _ table: LuaRef, plugin name: String
    ) throws(PluginError) -> ([String: (validate: LuaRef?, handle: LuaRef?)], [String: PluginEventType]) {
        var types: [String: (validate: LuaRef?, handle: LuaRef?)] = [:]
        var registered: [String: PluginEventType] = [:]
        if let typesRef = state.fieldRef(table, "types", ofType: .table) {
            for typeName in state.keys(typesRef).sorted() {
                guard EventType.isValidName(typeName), !EventType.hubOnly.contains(EventType(typeName)),
                    ![EventType.message, .typing, .notification].contains(EventType(typeName))
                else {
                    throw .invalid(name, "types: '\(typeName)' is not a name a plugin may register")
                }
                guard let specRef = state.fieldRef(typesRef, typeName, ofType: .table) else {
                    throw .invalid(name, "types.\(typeName) must be a table like { stored = true, validate = function(data) ... end }")
                }
                var type = PluginEventType()
                switch state.field(specRef, "stored") {
                case .none: break
                case .bool(let value): type.stored = value
                default: throw .invalid(name, "types.\(typeName).stored must be a boolean")
                }
                switch state.field(specRef, "from") {
                case .none, .value(.string("anyone")): break
                case .value(.string("plugins")): type.clientsMaySend = false
                default: throw .invalid(name, "types.\(typeName).from must be \"anyone\" (the default) or \"plugins\" (clients may not send it)")
                }
                registered[typeName] = type
                types[typeName] = (state.fieldRef(specRef, "validate", ofType: .function), state.fieldRef(specRef, "handle", ofType: .function))
                state.release(specRef)
            }
            state.release(typesRef)
        } else if let type = state.fieldType(table, "types"), type != .nil {
            throw .invalid(name, "'types' must be a table")
        }
        return (types, registered)
    }
}
