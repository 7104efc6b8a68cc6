import NIOCore
import NIOPosix

/// The TCP bootstrap every client uses: small, no Nagle, SO_REUSEADDR; a connect timeout.
enum ClientBootstraps {
    static func make(on loop: EventLoop, connectTimeout: TimeAmount = .seconds(10)) -> ClientBootstrap {
        ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
    }
}
