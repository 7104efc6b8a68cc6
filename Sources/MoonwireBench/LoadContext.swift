import Histogram
import NIOCore
import NIOPosix

/// The event loops the clients run on, one `Recorder` per loop, and the payload format of the current phase.
final class LoadContext: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    let loops: [EventLoop]
    let recorders: [Recorder]
    let endpoint: HubEndpoint
    /// The payload format of the current phase; changed between phases only while nothing is published.
    private(set) var payload: BenchPayload
    private(set) var scanner: PayloadScanner
    /// For Moonwire's long-poll answers (see `PayloadScanner.init(dataOf:)`).
    private(set) var dataScanner: PayloadScanner

    init(endpoint: HubEndpoint, threads: Int, payload: BenchPayload) {
        self.endpoint = endpoint
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        loops = Array(group.makeIterator())
        recorders = loops.map { Recorder(loop: $0) }
        self.payload = payload
        scanner = PayloadScanner(payload)
        dataScanner = PayloadScanner(dataOf: payload)
    }

    func loop(for index: Int) -> EventLoop { loops[index % loops.count] }
    func recorder(for index: Int) -> Recorder { recorders[index % recorders.count] }

    /// Starts a new phase: a new payload (new run id), every recorder and subscriber emptied on its loop.
    func startPhase(payload: BenchPayload, subscribers: [SubscriberState]) async throws {
        self.payload = payload
        scanner = PayloadScanner(payload)
        dataScanner = PayloadScanner(dataOf: payload)
        for (index, recorder) in recorders.enumerated() {
            try await recorder.loop.submit {
                recorder.reset()
                var position = index
                while position < subscribers.count {
                    subscribers[position].seen.removeAll()
                    position += self.loops.count
                }
            }.get()
        }
    }

    /// First deliveries so far, all loops together (any thread).
    var progress: Int { recorders.reduce(0) { $0 + $1.progress.load(ordering: .relaxed) } }

    var unexpectedCloses: Int { recorders.reduce(0) { $0 + $1.unexpectedCloses.load(ordering: .relaxed) } }

    /// Every recorder's counts merged (read on each loop).
    func collect() async throws -> Recorder.Snapshot {
        var merged = Recorder.Snapshot(histogram: Recorder.makeHistogram(), received: 0, duplicates: 0, errors: ErrorTally(), lastReceiptMicros: 0)
        for recorder in recorders {
            let snapshot = try await recorder.loop.submit { recorder.snapshot() }.get()
            merged.histogram.add(snapshot.histogram)
            merged.received += snapshot.received
            merged.duplicates += snapshot.duplicates
            merged.errors.merge(snapshot.errors)
            merged.lastReceiptMicros = max(merged.lastReceiptMicros, snapshot.lastReceiptMicros)
            merged.pollAnswers += snapshot.pollAnswers
        }
        return merged
    }

    /// Records an error on the first loop's recorder (from any thread).
    func error(_ kind: String, _ message: String = "") {
        let recorder = recorders[0]
        recorder.loop.execute { recorder.error(kind, message) }
    }

    func shutdown() async {
        try? await group.shutdownGracefully()
    }
}
