/// Waits until `condition` holds (checked every 50 ms; an error counts as not yet), or fails after
/// `timeout`: for a hub in another process, which has no `LiveHub.eventually`.
func eventually(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw ProbeError.timeout(what)
}
