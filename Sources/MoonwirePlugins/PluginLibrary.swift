import Foundation

/// A shared Lua module in the plugins directory's `lib/` folder (`lib/NAME.lua`), which plugins load
/// with `require("NAME")`. Each plugin state runs it once, in the plugin's own sandbox.
public struct PluginLibrary: Sendable, Equatable {
    /// The name `require` takes: the file name without `.lua`.
    public var name: String
    /// Path of the file, as shown in errors (`plugins/lib/text.lua`).
    public var path: String
    public var text: String

    /// The folder of shared modules in a plugins directory.
    public static let folder = "lib"

    /// Whether `name` may name a module: a plugin's name (a lowercase letter, then lowercase letters,
    /// digits and `_`), without `-`.
    public static func isValidName(_ name: String) -> Bool {
        PluginLoader.isValidName(name) && !name.contains("-")
    }

    /// The modules of `directory/lib/`, by name; files that cannot be read, or whose names `require`
    /// cannot take, are reported.
    public static func scan(directory: String) -> (libraries: [PluginLibrary], errors: [(path: String, message: String)]) {
        let folder = (directory as NSString).appendingPathComponent(Self.folder)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return ([], []) }
        var libraries: [PluginLibrary] = []
        var errors: [(String, String)] = []
        for entry in entries.sorted() where entry.hasSuffix(".lua") && !entry.hasPrefix(".") && !entry.hasPrefix("_") {
            let path = (folder as NSString).appendingPathComponent(entry)
            let name = String(entry.dropLast(4))
            guard isValidName(name) else {
                errors.append((path, "\(path): a module's file name must start with a lowercase letter and hold only a-z, 0-9 and _"))
                continue
            }
            do {
                libraries.append(PluginLibrary(name: name, path: path, text: try String(contentsOfFile: path, encoding: .utf8)))
            } catch {
                errors.append((path, "cannot read: \(error.localizedDescription)"))
            }
        }
        return (libraries, errors)
    }
}
