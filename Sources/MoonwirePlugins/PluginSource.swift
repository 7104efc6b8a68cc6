import Crypto
import Foundation

/// A plugin's source as found in the plugins directory: `name.lua`, or `name/init.lua` (only `init.lua`
/// is read: plugins have no `require`).
public struct PluginSource: Sendable, Equatable {
    /// The plugin's name: the file's or folder's (a `name` in the plugin table must agree with it).
    public var fileName: String
    /// Path of the main file, as shown in errors (`plugins/auth.lua`).
    public var path: String
    public var text: String
    /// SHA-256 of the source, hex.
    public var hash: String

    public init(fileName: String, path: String, text: String) {
        self.fileName = fileName
        self.path = path
        self.text = text
        self.hash = SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads one plugin from a file or a folder.
    public static func read(path: String) throws -> PluginSource {
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
        var errors: [(String, String)] = []
        for entry in entries.sorted() where !entry.hasPrefix(".") && !entry.hasPrefix("_") {
            let path = (directory as NSString).appendingPathComponent(entry)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                guard FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("init.lua")) else { continue }
            } else if !entry.hasSuffix(".lua") {
                continue
            }
            do {
                sources.append(try read(path: path))
            } catch {
                errors.append((path, "cannot read: \(error.localizedDescription)"))
            }
        }
        return (sources, errors)
    }
}
