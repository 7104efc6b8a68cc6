import Crypto
import Foundation

/// A plugin's source as found in the plugins directory: `name.lua`, or `name/init.lua`, with the shared
/// modules of `lib/` it may `require`.
public struct PluginSource: Sendable, Equatable {
    /// The plugin's name: the file's or folder's (a `name` in the plugin table must agree with it).
    public var fileName: String
    /// Path of the main file, as shown in errors (`plugins/auth.lua`).
    public var path: String
    public var text: String
    /// The modules of the directory's `lib/` folder (`require`).
    public var libraries: [PluginLibrary]
    /// SHA-256 of the source and of the modules, hex: a changed module reloads the plugins.
    public var hash: String

    public init(fileName: String, path: String, text: String, libraries: [PluginLibrary] = []) {
        self.fileName = fileName
        self.path = path
        self.text = text
        self.libraries = libraries
        var hasher = SHA256()
        hasher.update(data: Data(text.utf8))
        for library in libraries {
            hasher.update(data: Data("\0\(library.name)\0".utf8))
            hasher.update(data: Data(library.text.utf8))
        }
        self.hash = hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Reads one plugin from a file or a folder, with the modules of `lib/` beside it.
    public static func read(path: String) throws -> PluginSource {
        let alone = try readAlone(path: path)
        let directory = ((path as NSString).standardizingPath as NSString).deletingLastPathComponent
        return PluginSource(fileName: alone.fileName, path: alone.path, text: alone.text, libraries: PluginLibrary.scan(directory: directory).libraries)
    }

    /// Reads one plugin from a file or a folder, without modules.
    private static func readAlone(path: String) throws -> PluginSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let url = URL(fileURLWithPath: path)
        if isDirectory.boolValue {
            let main = url.appendingPathComponent("init.lua").path
            let text = try String(contentsOfFile: main, encoding: .utf8)
            return PluginSource(fileName: url.lastPathComponent, path: main, text: text)
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return PluginSource(fileName: url.deletingPathExtension().lastPathComponent, path: path, text: text)
    }

    /// Every plugin in `directory`, by file or folder name. Unreadable entries are reported, not skipped silently.
    public static func scan(directory: String) -> (sources: [PluginSource], errors: [(path: String, message: String)]) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return ([], []) }
        var sources: [PluginSource] = []
        let (libraries, libraryErrors) = PluginLibrary.scan(directory: directory)
        var errors: [(String, String)] = libraryErrors
        for entry in entries.sorted() where !entry.hasPrefix(".") && !entry.hasPrefix("_") {
            let path = (directory as NSString).appendingPathComponent(entry)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                guard FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("init.lua")) else { continue }
            } else if !entry.hasSuffix(".lua") || entry.hasSuffix(PluginSpec.suffix) {
                continue  // NAME_test.lua is the spec of NAME (`moonwire plugins test`), not a plugin
            }
            do {
                let alone = try readAlone(path: path)
                sources.append(PluginSource(fileName: alone.fileName, path: alone.path, text: alone.text, libraries: libraries))
            } catch {
                errors.append((path, "cannot read: \(error.localizedDescription)"))
            }
        }
        return (sources, errors)
    }
}
