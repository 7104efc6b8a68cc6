import MoonwireCore
import MoonwireServer
import Testing

@Suite struct ConfigurationTests {
    @Test func defaultsMatchTheDocumentedValues() throws {
        let configuration = try ConfigurationLoader.load(fileText: nil, environment: [:])
        #expect(configuration.port == 8080)
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.apiKey == nil)
        #expect(configuration.hub.historySize == 100)
        #expect(configuration.hub.replayOnJoin == 20)
        #expect(configuration.hub.heartbeatTimeout == .seconds(60))
        #expect(configuration.hub.keepAliveInterval == .seconds(15))
        #expect(configuration.hub.maxFrameBytes == 64 * 1024)
        #expect(configuration.authTimeout == .seconds(10))
    }

    @Test func fileThenEnvironmentThenOverrides() throws {
        let file = """
            [server]
            port = 9000
            api_key = "secret"
            allowed_origins = ["https://app.example.com"]

            [rooms]
            history_size = 500

            [heartbeat]
            timeout = 90.5

            [plugins.moderation]
            banned_words = ["spam"]
            max_length = 280
            """
        var configuration = try ConfigurationLoader.load(
            fileText: file, environment: ["MOONWIRE_SERVER_PORT": "9100", "MOONWIRE_LOG_LEVEL": "debug", "UNRELATED": "x"])
        #expect(configuration.port == 9100)
        #expect(configuration.apiKey == "secret")
        #expect(configuration.allowedOrigins == ["https://app.example.com"])
        #expect(configuration.hub.historySize == 500)
        #expect(configuration.hub.heartbeatTimeout == .milliseconds(90_500))
        #expect(configuration.logLevel == .debug)
        #expect(configuration.pluginSettings["moderation"]?["max_length"] == 280)
        #expect(configuration.pluginSettings["moderation"]?["banned_words"] == ["spam"])
        try ConfigurationLoader.apply(override: "rooms.history_size=42", to: &configuration)
        #expect(configuration.hub.historySize == 42)
    }

    @Test(arguments: [
        ("[server]\nprot = 1", "unknown key 'server.prot' (did you mean 'server.port'?)"),
        ("[server]\nport = \"eighty\"", "server.port must be an integer"),
        ("[server]\nport = 70000", "server.port must be between 0 and 65535"),
        ("[log]\nlevel = \"loud\"", "log.level must be one of"),
        ("[rooms]\nhistory_size = 10\nreplay_on_join = 20", "rooms.replay_on_join (20) must not exceed rooms.history_size (10)"),
        ("[server]\nallowed_origins = [\"not an origin\"]", "server.allowed_origins: 'not an origin'"),
        ("[server\nport = 1", "moonwire.toml: line 1"),
        ("port = 8080", "'port' must be a table"),
    ])
    func invalidFilesNameTheKeyAndTheProblem(_ file: String, _ message: String) {
        do {
            _ = try ConfigurationLoader.load(fileText: file, environment: [:])
            Issue.record("expected an error for \(file)")
        } catch {
            #expect(error.message.contains(message), "got: \(error.message)")
        }
    }

    @Test func invalidEnvironmentValueNamesTheVariable() {
        do {
            _ = try ConfigurationLoader.load(fileText: nil, environment: ["MOONWIRE_ROOMS_HISTORY_SIZE": "lots"])
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("MOONWIRE_ROOMS_HISTORY_SIZE"))
            #expect(error.message.contains("rooms.history_size must be an integer"))
        }
    }

    @Test func everyKeyHasHelpAndAParsableDefault() throws {
        for key in ConfigurationKey.all {
            #expect(!key.help.isEmpty, "\(key.path)")
            var configuration = ServerConfiguration()
            let text = key.defaultText.hasPrefix("\"") ? String(key.defaultText.dropFirst().dropLast()) : key.defaultText
            if case .strings = key.kind { continue }
            if case .string(false) = key.kind, text.isEmpty { continue }
            try ConfigurationLoader.apply(override: "\(key.path)=\(text)", to: &configuration)
        }
    }
}

@Suite struct OriginTests {
    let policy = CORSPolicy(allowedOrigins: ["http://localhost:*", "https://app.example.com", "https://*.example.org"])

    @Test func patterns() {
        #expect(policy.allows(origin: "http://localhost:3000", host: nil))
        #expect(policy.allows(origin: "http://localhost", host: nil))
        #expect(!policy.allows(origin: "https://localhost:3000", host: nil))
        #expect(policy.allows(origin: "https://app.example.com", host: nil))
        #expect(policy.allows(origin: "https://app.example.com:443", host: nil))
        #expect(!policy.allows(origin: "https://app.example.com:8443", host: nil))
        #expect(policy.allows(origin: "https://chat.example.org", host: nil))
        #expect(!policy.allows(origin: "https://example.org.evil.com", host: nil))
        #expect(!policy.allows(origin: "https://evil.example", host: nil))
        #expect(!policy.allows(origin: "null", host: nil))
    }

    @Test func sameOriginIsAlwaysAllowed() {
        #expect(policy.allows(origin: "http://hub.internal:8080", host: "hub.internal:8080"))
        #expect(policy.allows(origin: "http://hub.internal", host: "hub.internal:80"))
        #expect(!policy.allows(origin: "http://hub.internal:8081", host: "hub.internal:8080"))
    }

    @Test func nonBrowserSchemesAreNotSubjectToTheBrowserCheck() {
        #expect(policy.allows(origin: "ws://127.0.0.1", host: nil))
    }

    @Test func anyOriginWithStar() {
        #expect(CORSPolicy(allowedOrigins: ["*"]).allows(origin: "https://anything.test", host: nil))
    }
}
