import HotlineCore
import Logging
import Metrics
import NIOCore
import NIOPosix

public enum MediaError: Error, Sendable, CustomStringConvertible {
    /// Every port of the RTP range is in use (or failed to bind).
    case noPortAvailable(range: ClosedRange<Int>)

    public var description: String {
        switch self {
        case .noPortAvailable(let r): return "no free RTP port in \(r.lowerBound)-\(r.upperBound)"
        }
    }
}

/// Opens RTP sessions for call legs: a port from the range, a socket on one of the event
/// loops, and that loop's media clock. Sendable: the clocks are fixed at start and each is
/// confined to its own loop.
public final class MediaEngine: Sendable {
    public let address: String
    public let prompts: PromptLibrary
    private let group: EventLoopGroup
    private let clocks: [ObjectIdentifier: MediaClock]
    private let ports: RTPPortAllocator
    private let logger: Logger
    private let packetsSent = Counter(label: "hotline_rtp_packets_sent_total")
    private let packetsReceived = Counter(label: "hotline_rtp_packets_received_total")
    private let packetsDropped = Counter(label: "hotline_rtp_packets_dropped_total")
    private let packetsLost = Counter(label: "hotline_rtp_packets_lost_total")
    private let jitter = Recorder(label: "hotline_rtp_jitter_ms")
    private let activeSessions = Gauge(label: "hotline_rtp_sessions")
    private let keysReceived = Counter(label: "hotline_dtmf_keys_total", dimensions: [("method", "rfc4733")])

    public init(group: EventLoopGroup, address: String, portRange: ClosedRange<Int>, prompts: PromptLibrary, logger: Logger) {
        self.group = group
        self.address = address
        self.prompts = prompts
        self.ports = RTPPortAllocator(range: portRange)
        self.logger = logger
        var clocks: [ObjectIdentifier: MediaClock] = [:]
        for loop in group.makeIterator() {
            clocks[ObjectIdentifier(loop)] = MediaClock(eventLoop: loop)
        }
        self.clocks = clocks
    }

    public var sessionsInUse: Int { ports.inUseCount }

    /// Opens a session on the next event loop; the returned session receives at once and
    /// sends once `start()` is called.
    /// Pass `on` to put the session on a given loop (the other leg's, for a bridge).
    public func openSession(
        parameters: RTPSessionParameters,
        on preferredLoop: EventLoop? = nil,
        onEvent: @escaping @Sendable (MediaEvent) -> Void
    ) -> EventLoopFuture<RTPSession> {
        let loop = preferredLoop ?? group.next()
        guard let clock = clocks[ObjectIdentifier(loop)] else {
            preconditionFailure("event loop without a media clock")
        }
        // Another process may hold a block of the range (e.g. a daemon still draining): skip
        // up to 64 taken ports before refusing the call.
        return bind(loop: loop, clock: clock, parameters: parameters, onEvent: onEvent, attemptsLeft: 64)
    }

    private func bind(
        loop: EventLoop, clock: MediaClock, parameters: RTPSessionParameters,
        onEvent: @escaping @Sendable (MediaEvent) -> Void, attemptsLeft: Int
    ) -> EventLoopFuture<RTPSession> {
        guard attemptsLeft > 0, let port = ports.allocate() else {
            return loop.makeFailedFuture(MediaError.noPortAvailable(range: ports.range))
        }
        let session = RTPSession(
            eventLoop: loop, clock: clock, localPort: port, parameters: parameters,
            logger: logger, onEvent: onEvent,
            onClose: { [weak self] s in self?.sessionClosed(s) })
        return DatagramBootstrap(group: loop)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RTPReceiveHandler(session: session))
                }
            }
            .bind(host: address, port: port)
            .map { channel -> RTPSession in
                session.attach(channel)
                self.activeSessions.record(self.ports.inUseCount)
                return session
            }
            .flatMapError { error in
                // The port is taken by another process: send it to the back of the queue
                // and try the next one.
                self.ports.release(port)
                self.logger.warning("RTP bind failed", metadata: ["port": "\(port)", "error": "\(error)"])
                return self.bind(loop: loop, clock: clock, parameters: parameters, onEvent: onEvent, attemptsLeft: attemptsLeft - 1)
            }
    }

    private func sessionClosed(_ session: RTPSession) {
        let s = session.statistics
        packetsSent.increment(by: Int64(s.packetsSent))
        packetsReceived.increment(by: Int64(s.packetsReceived))
        packetsDropped.increment(by: Int64(s.malformedDropped + s.foreignSourceDropped + s.unknownPayloadTypeDropped))
        keysReceived.increment(by: Int64(s.digitsReceived))
        packetsLost.increment(by: Int64(s.packetsLost))
        if s.packetsReceived > 0 { jitter.record(s.jitterMs) }
        ports.release(session.localPort)
        activeSessions.record(ports.inUseCount)
    }
}
