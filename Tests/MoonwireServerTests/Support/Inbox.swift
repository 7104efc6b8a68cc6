/// Collects what a stream delivers so a test can wait for a matching item, with a deadline.
actor Inbox<Item: Sendable> {
    private var items: [Item] = []
    private(set) var finished = false
    private var consumer: Task<Void, Never>?

    init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == Item {
        consumer = nil
        Task { await self.start(sequence) }
    }

    private func start<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == Item {
        consumer = Task {
            do {
                for try await item in sequence { self.append(item) }
            } catch {}
            self.finish()
        }
    }

    private func append(_ item: Item) { items.append(item) }
    private func finish() { finished = true }

    /// Removes and returns the first item matching `predicate`; waits up to `timeout` for one.
    func next(timeout: Duration = .seconds(5), _ description: String, where predicate: @Sendable (Item) -> Bool) async throws -> Item {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let index = items.firstIndex(where: predicate) {
                return items.remove(at: index)
            }
            if finished { throw ProbeError.unexpected("stream ended while waiting for \(description); saw \(items)") }
            if ContinuousClock.now >= deadline { throw ProbeError.timeout("\(description); saw \(items)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Every item received so far that matches, without removing them.
    func all(where predicate: @Sendable (Item) -> Bool = { _ in true }) -> [Item] {
        items.filter(predicate)
    }

    /// Removes every item received so far.
    func clear() { items.removeAll() }

    /// Waits `duration` and returns the matching items that arrived, removing them.
    func collect(for duration: Duration, where predicate: @Sendable (Item) -> Bool = { _ in true }) async throws -> [Item] {
        try await Task.sleep(for: duration)
        let matching = items.filter(predicate)
        items.removeAll(where: predicate)
        return matching
    }

    /// Waits until the stream has ended.
    func waitUntilFinished(timeout: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !finished {
            if ContinuousClock.now >= deadline { throw ProbeError.timeout("end of stream") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
