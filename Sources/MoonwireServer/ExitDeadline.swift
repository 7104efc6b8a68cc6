import Foundation
import Logging
import ServiceLifecycle

/// For `moonwire serve`: once graceful shutdown starts, the process exits after `after` even if the HTTP
/// server still waits for a connection (a client that sent half a request and went quiet, say). By then
/// every client has been told and every connection the hub knows of is closed.
struct ExitDeadline: Service {
    let after: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let seconds = after.seconds
        let logger = self.logger
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: seconds)
            logger.warning("shutdown did not finish in time: exiting with connections still open")
            exit(0)
        }
    }
}
