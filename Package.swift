// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "moonwire",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "moonwire", targets: ["moonwire"]),
        .library(name: "MoonwireCore", targets: ["MoonwireCore"]),
        .library(name: "MoonwireServer", targets: ["MoonwireServer"]),
        .library(name: "MoonwireClient", targets: ["MoonwireClient"]),
        .library(name: "MoonwireBench", targets: ["MoonwireBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
    ],
    targets: [
        // Lua 5.4 from the system (Debian: liblua5.4-dev).
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"])]
        ),
        // The C half of the Lua layer: allocator, limits hook, protected calls, sandbox, trampoline.
        .target(
            name: "CLuaShims",
            dependencies: ["CLua"]
        ),
        // The only Swift code that touches the Lua C API.
        .target(
            name: "LuaRuntime",
            dependencies: ["CLua", "CLuaShims", "MoonwireCore"]
        ),
        // Events, rooms, history, presence, the hub and the broker. No HTTP here.
        .target(
            name: "MoonwireCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The Redis broker for several nodes, on a small RESP2 client of its own over SwiftNIO.
        .target(
            name: "MoonwireRedis",
            dependencies: [
                "MoonwireCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The embedded broker with history in a SQLite file.
        .target(
            name: "MoonwireSQLite",
            dependencies: [
                "MoonwireCore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The plugin host: loading, the hook chain, the `hub` Lua module, the store, timers, hot reload.
        .target(
            name: "MoonwirePlugins",
            dependencies: [
                "MoonwireCore",
                "LuaRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // HTTP: the WebSocket, SSE and long-poll transports, the server API and /metrics.
        .target(
            name: "MoonwireServer",
            dependencies: [
                "MoonwireCore",
                "MoonwirePlugins",
                "MoonwireRedis",
                "MoonwireSQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                "LuaRuntime",
            ]
        ),
        // A Swift client for the three transports.
        .target(
            name: "MoonwireClient",
            dependencies: [
                "MoonwireCore",
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // `moonwire bench`: the load generator (SwiftNIO clients for the three transports, HdrHistogram latency).
        .target(
            name: "MoonwireBench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "moonwire",
            dependencies: [
                "MoonwireServer",
                "MoonwirePlugins",
                "MoonwireSQLite",
                "MoonwireClient",
                "MoonwireBench",
                "CLua",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .testTarget(
            name: "MoonwireCoreTests",
            dependencies: ["MoonwireCore"]
        ),
        .testTarget(
            name: "LuaRuntimeTests",
            dependencies: ["LuaRuntime"]
        ),
        .testTarget(
            name: "MoonwirePluginsTests",
            dependencies: ["MoonwirePlugins", "MoonwireCore"]
        ),
        .testTarget(
            name: "MoonwireServerTests",
            dependencies: [
                "MoonwireServer",
                "MoonwireClient",
                "MoonwirePlugins",
                "MoonwireBench",
                "MoonwireRedis",
                "MoonwireSQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ]
)
