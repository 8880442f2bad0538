import NIOConcurrencyHelpers
import NIOCore

/// A UDP test peer's handler: keeps every datagram it receives.
final class DatagramCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let packets = NIOLockedValueBox<[[UInt8]]>([])
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data).data
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        packets.withLockedValue { $0.append(bytes) }
    }
}
