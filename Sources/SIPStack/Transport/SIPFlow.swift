import NIOCore

/// The path a message came on and a response or in-dialog request goes back on
/// (RFC 3261 §18.2.2; RFC 5626's "flow"): a UDP peer address reached through the listening
/// socket, or a stream connection that the peer opened.
public enum SIPFlow: Sendable, CustomStringConvertible {
    case datagram(remote: SocketAddress)
    case stream(channel: Channel, transport: StreamTransport)

    public enum StreamTransport: String, Sendable { case tcp = "TCP", tls = "TLS" }

    /// The Via transport token for this flow.
    public var viaTransport: String {
        switch self {
        case .datagram: return "UDP"
        case .stream(_, let t): return t.rawValue
        }
    }

    public var isReliable: Bool {
        if case .stream = self { return true }
        return false
    }

    public var remoteAddress: SocketAddress? {
        switch self {
        case .datagram(let remote): return remote
        case .stream(let channel, _): return channel.remoteAddress
        }
    }

    public var description: String {
        "\(viaTransport):\(remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?")"
    }
}
