import NIOCore
import Synchronization

/// Runs the tasks that prefer it on one NIO event loop: work a channel handler starts (a long-poll) runs on
/// its connection's own thread, with no hop to the shared pool and back, and a task resumed from another
/// thread costs one `execute` on the loop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    private static let executors = Mutex<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

    /// The executor of `eventLoop` (one per loop, kept for the life of the process).
    static func shared(for eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        executors.withLock { executors in
            let key = ObjectIdentifier(eventLoop as AnyObject)
            if let executor = executors[key] { return executor }
            let executor = EventLoopTaskExecutor(eventLoop: eventLoop)
            executors[key] = executor
            return executor
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
