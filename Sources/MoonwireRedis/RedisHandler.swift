import NIOCore

/// A command on its way to Redis, with where its reply goes (`nil`: no reply expected, as for the
/// subscription commands of a pub/sub connection).
struct RedisRequest {
    var arguments: [RedisArgument]
    var promise: EventLoopPromise<RESPValue>?
}

/// Pairs replies with pipelined commands in order, or hands every reply to `onPush` on a pub/sub
/// connection. A command unanswered past the timeout closes the connection: the replies could no longer
/// be paired, and a silent Redis is as good as gone. A pub/sub connection is pinged so that a silent one
/// is noticed too.
final class RedisHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private var pending = CircularBuffer<(promise: EventLoopPromise<RESPValue>, sent: NIODeadline)>()
    private let timeout: TimeAmount
    private let onPush: (@Sendable (RESPValue) -> Void)?
    private var watchdog: RepeatedTask?
    private var lastRead = NIODeadline.now()

    init(timeout: TimeAmount, onPush: (@Sendable (RESPValue) -> Void)?) {
        self.timeout = timeout
        self.onPush = onPush
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let interval = onPush == nil ? TimeAmount.milliseconds(250) : timeout
        watchdog = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = bound.value
            handler.check(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watchdog?.cancel()
        watchdog = nil
    }

    private func check(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if onPush != nil {
            if now - lastRead > timeout * 3 {
                context.close(promise: nil)
                return
            }
            var buffer = context.channel.allocator.buffer(capacity: 16)
            RESPEncoder.write(["PING"], into: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else if let oldest = pending.first, now - oldest.sent > timeout {
            failAll(RedisError.timeout)
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        var buffer = context.channel.allocator.buffer(capacity: 64)
        RESPEncoder.write(request.arguments, into: &buffer)
        if let reply = request.promise {
            pending.append((reply, .now()))
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        lastRead = .now()
        if let onPush {
            onPush(value)
            return
        }
        guard let next = pending.popFirst() else {
            // A reply nobody asked for: the stream is out of step.
            context.close(promise: nil)
            return
        }
        next.promise.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError.connectionClosed)
        watchdog?.cancel()
        watchdog = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        while let next = pending.popFirst() {
            next.promise.fail(error)
        }
    }
}
