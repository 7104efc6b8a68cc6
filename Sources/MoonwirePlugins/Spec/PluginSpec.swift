import Foundation

/// A spec file: `NAME_test.lua` beside the plugin `NAME`, run by `moonwire plugins test` (never loaded
/// as a plugin).
public struct PluginSpec: Sendable, Equatable {
    /// How a spec file's name ends.
    public static let suffix = "_test.lua"

    /// Path of the spec file.
    public var path: String
    /// The plugins directory it sits in (the plugins it tests load from there).
    public var directory: String
    /// The plugin it tests unless it says otherwise: `NAME` of `NAME_test.lua`.
    public var pluginName: String

    public init(path: String) {
        self.path = path
        self.directory = (path as NSString).deletingLastPathComponent
        self.pluginName = String((path as NSString).lastPathComponent.dropLast(Self.suffix.count))
    }

    /// The spec files `paths` name: spec files as they are, directories by their `*_test.lua` files.
    /// A path that is neither is reported.
    public static func find(_ paths: [String]) -> (specs: [PluginSpec], errors: [String]) {
        var specs: [PluginSpec] = []
        var errors: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                errors.append("\(path): no such file or directory")
                continue
            }
            if isDirectory.boolValue {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                for entry in entries.sorted() where entry.hasSuffix(suffix) && !entry.hasPrefix(".") && !entry.hasPrefix("_") {
                    specs.append(PluginSpec(path: (path as NSString).appendingPathComponent(entry)))
                }
            } else if path.hasSuffix(suffix) {
                specs.append(PluginSpec(path: path))
            } else {
                errors.append("\(path): a spec file's name ends in \(suffix) (NAME\(suffix) tests the plugin NAME)")
            }
        }
        return (specs, errors)
    }
}
