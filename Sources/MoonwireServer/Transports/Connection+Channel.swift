import MoonwireCore
import NIOCore

extension Connection {
    /// Ties the connection to the channel it is served on: an abort closes the channel, and while the
    /// connection closes the hub reads the channel's unwritten bytes to tell a client that still reads
    /// (its last frames get time) from one that stopped.
    func attach(to channel: any Channel) {
        onAbort { channel.close(promise: nil) }
        onPendingWrites { try? await channel.getOption(ChannelOptions.bufferedWritableBytes).get() }
    }
}
