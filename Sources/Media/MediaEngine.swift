import AudioCodecs
import Foundation
import HotlineCore
import Logging
import Metrics
import NIOCore
import NIOPosix
import RTP

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
    public let codecs: CodecSettings
    /// The rate legs decode to where audio is decoded (recordings, conferences, key detection).
    public let decodeRate: Int
    private let group: EventLoopGroup
    private let clocks: [ObjectIdentifier: MediaClock]
    private let ports: RTPPortAllocator
    /// Wall clock read once at start, advanced by the monotonic clock: RTCP times never step.
    private let ntpClock: NTPClock
    private let logger: Logger
    private let packetsSent = Counter(label: "hotline_rtp_packets_sent_total")
    private let packetsReceived = Counter(label: "hotline_rtp_packets_received_total")
    private let packetsDropped = Counter(label: "hotline_rtp_packets_dropped_total")
    private let packetsLost = Counter(label: "hotline_rtp_packets_lost_total")
    private let jitter = Recorder(label: "hotline_rtp_jitter_ms")
    private let activeSessions = Gauge(label: "hotline_rtp_sessions")
    private let roundTrip = Recorder(label: "hotline_rtp_round_trip_ms")
    private let quality = Recorder(label: "hotline_media_mos")
    private let rtcpSent = Counter(label: "hotline_rtcp_packets_sent_total")
    private let rtcpReceived = Counter(label: "hotline_rtcp_packets_received_total")
    private let rtcpDropped = Counter(label: "hotline_rtcp_packets_dropped_total")
    private let keysReceived = Counter(label: "hotline_dtmf_keys_total", dimensions: [("method", "rfc4733")])
    private let inbandKeysReceived = Counter(label: "hotline_dtmf_keys_total", dimensions: [("method", "inband")])
    private let packetsTranscoded = Counter(label: "hotline_rtp_packets_transcoded_total")
    private let framesConcealed = Counter(label: "hotline_media_frames_concealed_total")

    public init(group: EventLoopGroup, address: String, portRange: ClosedRange<Int>, prompts: PromptLibrary,
                codecs: CodecSettings = CodecSettings(), decodeRate: Int = 8000, logger: Logger) {
        precondition(decodeRate == 8000 || decodeRate == 16000, "decode rate must be 8000 or 16000")
        self.group = group
        self.codecs = codecs
        self.decodeRate = decodeRate
        self.address = address
        self.prompts = prompts
        self.ports = RTPPortAllocator(range: portRange)
        self.ntpClock = NTPClock(wallClock: NTPTimestamp(unixSeconds: Date().timeIntervalSince1970),
                                 monotonicNanoseconds: NIODeadline.now().uptimeNanoseconds)
        self.logger = logger
        var clocks: [ObjectIdentifier: MediaClock] = [:]
        for loop in group.makeIterator() {
            clocks[ObjectIdentifier(loop)] = MediaClock(eventLoop: loop)
        }
        self.clocks = clocks
    }

    public var sessionsInUse: Int { ports.inUseCount }

    /// Call-progress tones (Chinese 450 Hz standard), one cadence period each, for `play(loop:)`:
    /// ringback 1 s on / 4 s off, busy 0.35 s / 0.35 s. Whole cycles of 450 Hz, so loops join.
    public let ringback = MediaEngine.tone(.ringback)
    public let busy = MediaEngine.tone(.busy)

    private static func tone(_ tone: CallProgressTone) -> EncodedPrompt {
        var generator = ToneGenerator(tone: tone, sampleRate: MediaFormat.sampleRate)
        var samples: [Int16] = []
        let period = (tone.cadence.onMs + tone.cadence.offMs) * MediaFormat.sampleRate / 1000
        generator.next(into: &samples, samples: period)
        return PromptLibrary.encode(name: "tone-\(tone)", language: "", samples: samples)
    }

    /// A conference mixer on `loop` (its members must live there), mixing at the decode rate.
    public func makeConference(on loop: EventLoop) -> Conference {
        Conference(eventLoop: loop, sampleRate: decodeRate)
    }

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
            codecs: codecs, decodeRate: decodeRate, ntpClock: ntpClock, logger: logger, onEvent: onEvent,
            onClose: { [weak self] s in self?.sessionClosed(s) })
        // RTP on the even port, RTCP on the next (RFC 3550 §11): both or neither.
        @Sendable func bootstrap<H: ChannelInboundHandler>(_ handler: @escaping @Sendable () -> H) -> DatagramBootstrap {
            DatagramBootstrap(group: loop)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(handler())
                    }
                }
        }
        let rtp = bootstrap { RTPReceiveHandler(session: session) }.bind(host: address, port: port)
        return rtp.flatMap { rtpChannel in
            bootstrap { RTCPReceiveHandler(session: session) }.bind(host: self.address, port: port + 1)
                .flatMapError { error in
                    rtpChannel.close(promise: nil)
                    return loop.makeFailedFuture(error)
                }
                .map { rtcpChannel -> RTPSession in
                    session.attach(rtpChannel, rtcp: rtcpChannel)
                    self.activeSessions.record(self.ports.inUseCount)
                    return session
                }
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
        keysReceived.increment(by: Int64(s.digitsReceived - s.inbandDigitsReceived))
        inbandKeysReceived.increment(by: Int64(s.inbandDigitsReceived))
        packetsTranscoded.increment(by: Int64(s.packetsTranscoded))
        framesConcealed.increment(by: Int64(s.framesConcealed))
        packetsLost.increment(by: Int64(s.packetsLost))
        if s.packetsReceived > 0 { jitter.record(s.jitterMs) }
        if let rtt = s.roundTripMs { roundTrip.record(rtt) }
        if let mos = s.mos { quality.record(mos) }
        rtcpSent.increment(by: Int64(s.rtcpSent))
        rtcpReceived.increment(by: Int64(s.rtcpReceived))
        rtcpDropped.increment(by: Int64(s.rtcpDropped))
        ports.release(session.localPort)
        activeSessions.record(ports.inUseCount)
    }
}
