import NIOCore

/// Reads SIP datagrams from the UDP listener (RFC 3261 §18.1) and hands each one, whole, to
/// the endpoint. One datagram is one message: nothing is buffered across datagrams.
final class UDPTransportHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let endpoint: SIPEndpoint
    init(endpoint: SIPEndpoint) { self.endpoint = endpoint }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var buffer = envelope.data
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        endpoint.receive(bytes, flow: .datagram(remote: envelope.remoteAddress))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()   // batch the responses of one read burst into few syscalls
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP unreachable and similar per-datagram errors: the listener stays open.
        endpoint.transportErrorCount.increment()
    }
}
