import Foundation

/// The Lua plugins the plugins and reload scenarios load: light hooks that look at every event and let
/// benchmark events through, so that what is measured is the cost of the Lua layer itself.
enum BenchPlugins {
    /// An `on_publish` hook that reads the event and has no opinion.
    static func onPublish(_ name: String, version: Int = 1) -> String {
        """
        -- moonwire bench: an on_publish hook that reads the event and lets it through.
        return {
          name = "\(name)",
          version = "\(version)",
          on_publish = function(ctx, event)
            if event.event_type ~= "message" then return nil end
            local data = event.data
            if type(data) == "table" and data.blocked == true then
              return false, "blocked by \(name)"
            end
            return nil
          end,
        }

        """
    }

    /// An `on_deliver` filter: withholds events addressed to another user, lets benchmark events through.
    static func onDeliver(_ name: String, version: Int = 1) -> String {
        """
        -- moonwire bench: an on_deliver filter (one call per recipient) that lets benchmark events through.
        return {
          name = "\(name)",
          version = "\(version)",
          on_deliver = function(recipient, event)
            local data = event.data
            if type(data) == "table" and data.only_for ~= nil and data.only_for ~= recipient.user_id then
              return false
            end
            return nil
          end,
        }

        """
    }

    /// A plugin with both hooks, for the reload scenario; `version` changes its source.
    static func reloading(version: Int) -> String {
        """
        -- moonwire bench: reloaded every second while events flow (version \(version)).
        return {
          name = "bench_reload",
          version = "\(version)",
          on_publish = function(ctx, event)
            if type(event.data) == "table" and event.data.blocked == true then return false, "blocked" end
            return nil
          end,
          on_deliver = function(recipient, event)
            if type(event.data) == "table" and event.data.only_for ~= nil and event.data.only_for ~= recipient.user_id then
              return false
            end
            return nil
          end,
        }

        """
    }

    /// A fresh temporary directory holding `files` (name → source).
    static func directory(_ files: [String: String]) throws -> String {
        let path = NSTemporaryDirectory() + "moonwire-bench-plugins-\(RunID.make())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, source) in files {
            try source.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
        }
        return path
    }

    /// `calls` and `seconds` of `hook`, summed over the hub's plugins (`GET /api/plugins`).
    /// A hook's calls and total seconds over every plugin, and the largest per-plugin median and p99 (µs).
    static func hookStatistics(_ reply: HTTPReply, hook: String) -> (calls: Double, seconds: Double, medianMicros: Double, p99Micros: Double) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any],
              let plugins = object["plugins"] as? [[String: Any]] else { return (0, 0, 0, 0) }
        var calls = 0.0
        var seconds = 0.0
        var median = 0.0
        var p99 = 0.0
        for plugin in plugins {
            guard let stats = plugin["stats"] as? [String: Any], let entry = stats[hook] as? [String: Any] else { continue }
            calls += (entry["calls"] as? NSNumber)?.doubleValue ?? 0
            seconds += (entry["seconds"] as? NSNumber)?.doubleValue ?? 0
            median = max(median, (entry["median_us"] as? NSNumber)?.doubleValue ?? 0)
            p99 = max(p99, (entry["p99_us"] as? NSNumber)?.doubleValue ?? 0)
        }
        return (calls, seconds, median, p99)
    }
}
