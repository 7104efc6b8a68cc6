import NIOCore

extension Channel {
    /// Returns after one turn of the channel's event loop: whatever was handed to the loop before (direct
    /// writes of live events, a writer's pending writes) has run.
    func settle() async {
        try? await eventLoop.submit {}.get()
    }
}
