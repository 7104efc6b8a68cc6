import Foundation
import MoonwireClient
import MoonwireCore

/// Headless Chromium driven over W3C WebDriver (Debian's chromium + chromium-driver), for browser tests.
final class WebDriver: Sendable {
    let port: Int
    private let process: CommandRun
    private let http: HubHTTPClient

    private init(port: Int, process: CommandRun) {
        self.port = port
        self.process = process
        self.http = HubHTTPClient(baseURL: "http://127.0.0.1:\(port)")
    }

    /// Starts chromedriver on a free port and waits until it answers.
    static func start() async throws -> WebDriver {
        let port = try freeLoopbackPort()
        // Spawned without the test process's descriptors (a hub's listening socket would outlive the hub).
        let process = try CommandRun(executable: "/usr/bin/chromedriver", ["--port=\(port)", "--allowed-ips=127.0.0.1"])
        let driver = WebDriver(port: port, process: process)
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if let reply = try? await driver.http.request("GET", "/status", timeout: .seconds(2)), reply.body?["value"]?["ready"] == true {
                return driver
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        _ = try? await process.exitStatus(timeout: .seconds(5))
        throw ProbeError.unexpected("chromedriver did not start")
    }

    /// A new browser (its own profile: cookies and storage are not shared between sessions).
    func newSession(width: Int = 1200, height: Int = 900) async throws -> BrowserSession {
        let capabilities: JSONValue = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "timeouts": ["script": 20000, "pageLoad": 30000],
                    "goog:chromeOptions": [
                        "binary": "/usr/bin/chromium",
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                            .string("--window-size=\(width),\(height)"),
                        ],
                    ],
                ]
            ]
        ]
        let reply = try await http.request("POST", "/session", json: capabilities, timeout: .seconds(60))
        guard let id = reply.body?["value"]?["sessionId"]?.stringValue else {
            throw ProbeError.unexpected("no browser session: \(reply.text)")
        }
        return BrowserSession(id: id, http: http)
    }

    /// Stops chromedriver (and the browsers it started).
    func stop() async {
        process.terminate()
        _ = try? await process.exitStatus(timeout: .seconds(10))
    }
}

/// One browser window under test.
struct BrowserSession: Sendable {
    let id: String
    let http: HubHTTPClient

    private func command(_ method: String, _ path: String, _ body: JSONValue? = nil) async throws -> JSONValue {
        // (Not `body ?? (post ? [:] : nil)`: JSONValue takes `nil` as JSON null.)
        var payload: JSONValue? = body
        if payload == nil, method == "POST" { payload = .object([:]) }
        let reply = try await http.request(method, "/session/\(id)\(path)", json: payload, timeout: .seconds(60))
        if let error = reply.body?["value"]?["error"]?.stringValue {
            throw ProbeError.unexpected("webdriver \(path): \(error): \(reply.body?["value"]?["message"]?.stringValue ?? "")")
        }
        return reply.body?["value"] ?? .null
    }

    func open(_ url: String) async throws {
        _ = try await command("POST", "/url", ["url": .string(url)])
    }

    /// Runs `script` (a function body) in the page and returns its result; a returned promise is awaited
    /// (the body is not an async function: write `return p.then(...)`, not `await`).
    @discardableResult
    func run(_ script: String, _ arguments: [JSONValue] = []) async throws -> JSONValue {
        try await command("POST", "/execute/sync", ["script": .string(script), "args": .array(arguments)])
    }

    /// Waits until `expression` (JavaScript) is truthy; returns its value.
    @discardableResult
    func wait(_ description: String, timeout: Duration = .seconds(10), until expression: String) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        var last: JSONValue = .null
        while ContinuousClock.now < deadline {
            last = try await run("return (\(expression)) || null;")
            if !last.isNull && last != false && last != 0 && last != "" { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
        let console = (try? await run("return (window.__log || []).slice(-20);")) ?? .null
        throw ProbeError.timeout("\(description) (last value \(last); page log \(console))")
    }

    /// A PNG of the window.
    func screenshot() async throws -> Data {
        guard let base64 = try await command("GET", "/screenshot").stringValue, let data = Data(base64Encoded: base64) else {
            throw ProbeError.unexpected("no screenshot")
        }
        return data
    }

    func close() async {
        _ = try? await http.request("DELETE", "/session/\(id)", timeout: .seconds(30))
    }
}

/// Runs `body` with a WebDriver (chromedriver) that is stopped afterwards.
func withBrowser(_ body: (WebDriver) async throws -> Void) async throws {
    let driver = try await WebDriver.start()
    do {
        try await body(driver)
    } catch {
        await driver.stop()
        throw error
    }
    await driver.stop()
}
