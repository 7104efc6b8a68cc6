import Foundation

/// A page that runs moonwire.js with options from its query string and records what it sees in
/// `window.__events` (messages), `__gaps`, `__statuses` and `__log`, for browser tests of the client itself.
enum ClientPage {
    static let html = """
        <!doctype html>
        <meta charset="utf-8">
        <title>moonwire.js under test</title>
        <script type="module">
        import { Moonwire } from "/moonwire.js";
        const params = new URLSearchParams(location.search);
        window.__log = []; window.__events = []; window.__gaps = []; window.__statuses = [];
        const hub = new Moonwire({
          userId: params.get("user") || "tester",
          transport: params.get("transport") || "auto",
          rooms: (params.get("rooms") || "general").split(","),
          reconnectMin: 200, reconnectMax: 1000, openTimeout: 3000, pollTimeout: 2,
        });
        hub.on("message", (event) => window.__events.push(event));
        hub.on("gap", (gap) => { window.__gaps.push(gap); window.__log.push("gap " + JSON.stringify(gap)); });
        hub.on("status", (status) => { window.__statuses.push(status); window.__log.push("status " + JSON.stringify(status)); });
        hub.on("error", (event) => window.__log.push("error " + JSON.stringify(event.data)));
        window.hub = hub;
        hub.connect().then(
          (transport) => { window.__connected = transport; },
          (error) => { window.__log.push("connect failed: " + error.message); });
        </script>
        """

    /// Writes the page into a fresh directory (served as the hub's examples directory) and returns it.
    static func directory() throws -> String {
        let directory = NSTemporaryDirectory() + "moonwire-client-page-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try html.write(toFile: directory + "/client.html", atomically: true, encoding: .utf8)
        return directory
    }
}
