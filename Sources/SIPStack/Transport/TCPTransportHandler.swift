import NIOCore
import SIPMessages

/// One TCP (or TLS, below a `NIOSSLServerHandler`) connection opened by a peer: frames the byte stream into messages by
/// Content-Length (RFC 3261 §18.3) and hands them to the endpoint. A framing error is fatal
/// for the connection (the stream can no longer be trusted) but not for the listener.
final class TCPTransportHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let endpoint: SIPEndpoint
    private var framer: SIPStreamFramer
    private let transport: SIPFlow.StreamTransport

    init(endpoint: SIPEndpoint, limits: SIPParser.Limits, transport: SIPFlow.StreamTransport = .tcp) {
        self.endpoint = endpoint
        self.framer = SIPStreamFramer(limits: limits)
        self.transport = transport
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        framer.append(buffer.readBytes(length: buffer.readableBytes) ?? [])
        let flow = SIPFlow.stream(channel: context.channel, transport: transport)
        do {
            while let message = try framer.next() {
                endpoint.receive(message, flow: flow, framed: true)
            }
        } catch {
            endpoint.streamFramingFailed(error, flow: flow)
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        endpoint.transportErrorCount.increment()
        context.close(promise: nil)
    }
}
