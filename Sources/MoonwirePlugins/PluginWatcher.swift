import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the plugins when their directory changes (checked every `options.watchInterval`, when
/// `options.watch` is on) and on SIGHUP; drops expired `hub.store` keys; and, four times a second, looks for
/// calls stuck past their deadline (their versions are quarantined and rebuilt).
public struct PluginWatcher: Service {
    let host: PluginHost

    public init(host: PluginHost) {
        self.host = host
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let signals = await UnixSignalsSequence(trapping: .sighup)
                for await _ in signals.cancelOnGracefulShutdown() {
                    host.logger.info("SIGHUP: reloading plugins")
                    host.reload(trigger: "SIGHUP")
                }
            }
            group.addTask {
                var last = host.options.watch ? fingerprint() : [:]
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    do { try await Task.sleep(for: host.options.watchInterval) } catch { break }
                    if host.options.watch {
                        let now = fingerprint()
                        if now != last {
                            last = now
                            host.reload(trigger: "file change")
                        }
                    }
                    host.store.purgeExpired()
                }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    do { try await Task.sleep(for: .milliseconds(250)) } catch { break }
                    host.checkStuckCalls()
                }
            }
            try? await gracefulShutdown()
            host.stop()
            group.cancelAll()
        }
    }

    /// Path and content hash of every plugin source in the directory.
    private func fingerprint() -> [String: String] {
        let scan = PluginSource.scan(directory: host.options.directory)
        var result = Dictionary(uniqueKeysWithValues: scan.sources.map { ($0.path, $0.hash) })
        for (path, message) in scan.errors { result[path] = "error: \(message)" }
        return result
    }
}
