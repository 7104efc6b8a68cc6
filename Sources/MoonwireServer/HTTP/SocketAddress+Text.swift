import NIOCore

extension SocketAddress {
    /// `ip:port` of an IP address (as hooks and logs name a client); `nil` for a Unix socket.
    var ipAndPort: String? {
        ipAddress.map { "\($0):\(port ?? 0)" }
    }
}
