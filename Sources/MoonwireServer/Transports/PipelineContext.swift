import NIOCore

/// The context of a handler in a channel's pipeline, looked up on the event loop the first time it is
/// needed: the direct sinks write below (or into) a known handler instead of through the whole pipeline.
final class PipelineContext<Handler: ChannelHandler>: Sendable {
    let channel: any Channel
    private let box: NIOLoopBoundBox<ChannelHandlerContext?>

    init(of handler: Handler.Type, in channel: any Channel) {
        self.channel = channel
        self.box = NIOLoopBoundBox.makeEmptyBox(valueType: ChannelHandlerContext.self, eventLoop: channel.eventLoop)
    }

    /// The handler's context, `nil` if it is not in the pipeline (event loop only).
    var context: ChannelHandlerContext? {
        if box.value == nil {
            box.value = try? channel.pipeline.syncOperations.context(handlerType: Handler.self)
        }
        return box.value
    }

    /// Flushes from the handler's context, or the whole channel without it (event loop only).
    func flush() {
        if let context { context.flush() } else { channel.flush() }
    }
}
