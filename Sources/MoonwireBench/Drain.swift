/// Waiting for the last deliveries of a phase.
enum Drain {
    /// Returns once `expected` first deliveries arrived, or none arrived for `idle` seconds; throws when
    /// the task is cancelled.
    static func wait(load: LoadContext, expected: Int, idle: Double) async throws {
        var lastProgress = load.progress
        var lastProgressAt = BenchClock.monotonicNanos()
        while load.progress < expected {
            try await Task.sleep(nanoseconds: 20_000_000)
            let progress = load.progress
            if progress != lastProgress {
                lastProgress = progress
                lastProgressAt = BenchClock.monotonicNanos()
            } else if BenchClock.seconds(since: lastProgressAt) > idle {
                return
            }
        }
    }
}
