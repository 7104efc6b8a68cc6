import Foundation
import MoonwireCore

extension ConfigurationLoader {
    /// The `[plugins.NAME]` tables of the configuration file at `path`, read again (plugin reloads).
    public static func pluginSettings(fromFile path: String) throws -> [String: JSONObject] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read configuration file '\(path)'")
        }
        var fresh = ServerConfiguration()
        try apply(fileText: String(decoding: data, as: UTF8.self), fileName: path, to: &fresh)
        return fresh.pluginSettings
    }
}
