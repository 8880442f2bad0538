import HotlineCore
import Logging
import NIOCore
import RTP

/// What was negotiated for one leg's audio stream (the SDP answer, in media terms).
public struct RTPSessionParameters: Sendable {
    public var law: G711Law
    public var payloadType: UInt8
    /// The caller's RFC 4733 telephone-event payload type, if offered.
    public var telephoneEventPayloadType: UInt8?
    /// Where the SDP says to send; replaced by the latched source once media arrives
    /// (symmetric RTP). Nil when the offer gave no usable address (e.g. 0.0.0.0).
    public var remote: SocketAddress?
    public var sends: Bool
    public var receives: Bool
    /// Hang up a leg from which no RTP arrived for this long (nil: never).
    public var noMediaTimeout: TimeAmount?

    public init(
        law: G711Law, payloadType: UInt8, telephoneEventPayloadType: UInt8?, remote: SocketAddress?,
        sends: Bool = true, receives: Bool = true, noMediaTimeout: TimeAmount?
    ) {
        self.law = law
        self.payloadType = payloadType
        self.telephoneEventPayloadType = telephoneEventPayloadType
        self.remote = remote
        self.sends = sends
        self.receives = receives
        self.noMediaTimeout = noMediaTimeout
    }
}

/// Per-leg counters, read into the call detail record and metrics when the leg closes.
public struct RTPStatistics: Sendable, Equatable {
    public var packetsSent: UInt64 = 0
    public var packetsReceived: UInt64 = 0
    /// Not RTP at all (short header, wrong version, bad lengths).
    public var malformedDropped: UInt64 = 0
    /// Valid RTP from an address other than the latched source (injection attempts).
    public var foreignSourceDropped: UInt64 = 0
    /// A payload type that was never negotiated.
    public var unknownPayloadTypeDropped: UInt64 = 0
    public var digitsReceived: UInt64 = 0
    /// RFC 3550 §6.4.1 cumulative loss of the (latest) incoming stream.
    public var packetsLost: UInt64 = 0
    /// RFC 3550 interarrival jitter of the incoming stream, in milliseconds.
    public var jitterMs: Double = 0
    public init() {}
}

public enum MediaEvent: Sendable, Equatable {
    case noMediaTimeout
}

/// One call leg's RTP stream: a UDP socket of its own, a paced sender fed by the loop's
/// `MediaClock`, and a receiver that latches the peer's address and decodes RFC 4733 keys.
///
/// Confined to `eventLoop`: every method that is not `public` and `nonisolated`-safe must run
/// there; the public API hops to it.
public final class RTPSession: @unchecked Sendable {
    public let eventLoop: EventLoop
    public let localPort: Int
    private let clock: MediaClock
    private let logger: Logger
    private var channel: Channel?
    private var parameters: RTPSessionParameters
    private let onEvent: @Sendable (MediaEvent) -> Void
    private let onClose: @Sendable (RTPSession) -> Void

    // Sender state (RFC 3550 §5.1): random initial sequence number, timestamp and SSRC.
    private let ssrc: UInt32
    private var sequenceNumber: UInt16
    private var timestamp: UInt32
    private var markerPending = true

    // Playback.
    private var playlist: [[UInt8]] = []
    private var playlistIndex = 0
    private var frameOffset = 0
    private var playbackInterruptible = false
    private var playbackPromise: EventLoopPromise<PlaybackOutcome>?

    // Keys.
    private var telephoneEvents = TelephoneEventReceiver()
    private var queuedDigits: [Character] = []
    private var digitPromise: EventLoopPromise<Character?>?
    private var digitTimeout: Scheduled<Void>?

    // Receive.
    private var latchedSource: SocketAddress?
    private var reception = ReceptionStatistics()
    private var lastReceived: NIODeadline
    private var timeoutReported = false

    public private(set) var statistics = RTPStatistics()
    private var closedCause: HangupCause?
    private var started = false

    // Relay (media anchored in a back-to-back call): what we receive goes to `relayTarget`;
    // while another session relays into us, our clock sends only prompts, not silence.
    private weak var relayTarget: RTPSession?
    private var relayedInto = false
    private var relaySourceSSRC: UInt32?
    private var relayTimestampOffset: UInt32 = 0

    init(
        eventLoop: EventLoop, clock: MediaClock, localPort: Int, parameters: RTPSessionParameters,
        logger: Logger,
        onEvent: @escaping @Sendable (MediaEvent) -> Void,
        onClose: @escaping @Sendable (RTPSession) -> Void
    ) {
        self.eventLoop = eventLoop
        self.clock = clock
        self.localPort = localPort
        self.parameters = parameters
        self.logger = logger
        self.onEvent = onEvent
        self.onClose = onClose
        var rng = SystemRandomNumberGenerator()
        self.ssrc = UInt32.random(in: .min ... .max, using: &rng)
        self.sequenceNumber = UInt16.random(in: .min ... .max, using: &rng)
        self.timestamp = UInt32.random(in: .min ... .max, using: &rng)
        self.lastReceived = .now()
    }

    func attach(_ channel: Channel) {
        eventLoop.assertInEventLoop()
        self.channel = channel
    }

    /// Starts sending (silence until something plays) and the no-media watch. Called when the
    /// call is answered; before that the socket only receives. Idempotent.
    public func start() {
        eventLoop.execute { [self] in
            guard closedCause == nil, !started else { return }
            started = true
            lastReceived = .now()
            clock.add(self)
        }
    }

    // MARK: Public operations (any thread)

    /// Plays the prompts in order; completes with `.finished`, or `.interrupted` when a key
    /// arrives during an interruptible playback. Fails with `CallEnded` once the leg closes.
    public func play(_ prompts: [EncodedPrompt], interruptible: Bool) -> EventLoopFuture<PlaybackOutcome> {
        eventLoop.flatSubmit { [self] in
            if let cause = closedCause { return eventLoop.makeFailedFuture(CallEnded(cause: cause)) }
            if interruptible, let digit = queuedDigits.first {
                return eventLoop.makeSucceededFuture(.interrupted(by: digit))
            }
            stopPlayback(with: .finished)   // a new playback replaces the old one
            let law = parameters.law
            playlist = prompts.map { $0.payload(for: law) }.filter { !$0.isEmpty }
            playlistIndex = 0
            frameOffset = 0
            playbackInterruptible = interruptible
            if playlist.isEmpty { return eventLoop.makeSucceededFuture(.finished) }
            let promise = eventLoop.makePromise(of: PlaybackOutcome.self)
            playbackPromise = promise
            return promise.futureResult
        }
    }

    /// The next key pressed (queued keys first), or nil after `timeout`.
    public func collectDigit(timeout: TimeAmount) -> EventLoopFuture<Character?> {
        eventLoop.flatSubmit { [self] in
            if let cause = closedCause { return eventLoop.makeFailedFuture(CallEnded(cause: cause)) }
            if !queuedDigits.isEmpty { return eventLoop.makeSucceededFuture(queuedDigits.removeFirst()) }
            digitPromise?.succeed(nil)
            digitTimeout?.cancel()
            let promise = eventLoop.makePromise(of: Character?.self)
            digitPromise = promise
            digitTimeout = eventLoop.scheduleTask(in: timeout) { [self] in
                guard let p = digitPromise else { return }
                digitPromise = nil
                digitTimeout = nil
                p.succeed(nil)
            }
            return promise.futureResult
        }
    }

    /// Closes the socket and fails pending operations with `CallEnded(cause)`. Idempotent.
    public func close(cause: HangupCause) {
        eventLoop.execute { [self] in closeOnLoop(cause: cause) }
    }

    /// New media parameters after a re-INVITE or UPDATE (hold, resume, new address or codec).
    /// A new remote address drops the latched source so the peer's new one can latch.
    public func update(parameters new: RTPSessionParameters) {
        eventLoop.execute { [self] in
            guard closedCause == nil else { return }
            if new.remote != parameters.remote { latchedSource = nil }
            if new.payloadType != parameters.payloadType { markerPending = true }
            parameters = new
            lastReceived = .now()
        }
    }

    /// A key that arrived in signalling (SIP INFO) rather than in the media.
    public func injectDigit(_ digit: Character) {
        eventLoop.execute { [self] in
            guard closedCause == nil else { return }
            deliver(digit)
        }
    }

    /// Relays media both ways between this session and `other` (a bridge of two legs): audio
    /// is forwarded as it arrives (transcoded between µ-law and A-law when the legs differ),
    /// RFC 4733 events with the target's payload type; sequence numbers, timestamps and SSRC
    /// are the target's own. Both sessions must live on the same event loop.
    public func bridge(with other: RTPSession) -> EventLoopFuture<Void> {
        precondition(other.eventLoop === eventLoop, "bridged RTP sessions must share an event loop")
        return eventLoop.submit { [self] in
            // Whoever either side relayed to before (a transfer's referrer) stops getting media.
            if let old = relayTarget, old !== other { old.detachRelay(from: self) }
            if let old = other.relayTarget, old !== self { old.detachRelay(from: other) }
            relayTarget = other
            other.relayTarget = self
            relayedInto = true
            other.relayedInto = true
            stopPlayback(with: .finished)
            other.stopPlayback(with: .finished)
        }
    }

    /// Ends a bridge from this side (both directions).
    public func unbridge() {
        eventLoop.execute { [self] in
            relayTarget?.detachRelay(from: self)
            relayTarget = nil
            relayedInto = false
        }
    }

    /// `peer` leaves: stop relaying to it, unless we were re-bridged to someone else since.
    private func detachRelay(from peer: RTPSession) {
        guard relayTarget === peer else { return }
        relayTarget = nil
        relayedInto = false
    }

    public func readStatistics() -> EventLoopFuture<RTPStatistics> {
        eventLoop.submit { [self] in statistics }
    }

    // MARK: Loop-confined

    private func closeOnLoop(cause: HangupCause) {
        guard closedCause == nil else { return }
        closedCause = cause
        clock.remove(self)
        if let other = relayTarget {
            other.detachRelay(from: self)
            relayTarget = nil
        }
        let ended = CallEnded(cause: cause)
        playbackPromise?.fail(ended)
        playbackPromise = nil
        digitTimeout?.cancel()
        digitPromise?.fail(ended)
        digitPromise = nil
        channel?.close(promise: nil)
        channel = nil
        onClose(self)
    }

    private func stopPlayback(with outcome: PlaybackOutcome) {
        playlist = []
        playlistIndex = 0
        frameOffset = 0
        if let p = playbackPromise {
            playbackPromise = nil
            p.succeed(outcome)
        }
    }

    /// Called by the clock every 20 ms.
    func tick(now: NIODeadline, tick: UInt64) {
        if relayedInto, playlistIndex >= playlist.count {
            // The bridged leg's packets are our stream; keep our clock moving for later prompts.
            timestamp &+= UInt32(MediaFormat.samplesPerFrame)
        } else if parameters.sends, let channel, let remote = latchedSource ?? parameters.remote {
            sendFrame(channel: channel, to: remote)
        } else {
            advancePlayback()
        }
        if tick % 50 == 0, let limit = parameters.noMediaTimeout, parameters.receives, !timeoutReported,
            now - lastReceived > limit
        {
            timeoutReported = true
            onEvent(.noMediaTimeout)
        }
    }

    private func sendFrame(channel: Channel, to remote: SocketAddress) {
        let frame = MediaFormat.samplesPerFrame
        var buffer = channel.allocator.buffer(capacity: 12 + frame)
        buffer.writeInteger(UInt8(0x80))   // V=2, no padding, no extension, no CSRC
        buffer.writeInteger((markerPending ? 0x80 : 0) | (parameters.payloadType & 0x7F))
        buffer.writeInteger(sequenceNumber)
        buffer.writeInteger(timestamp)
        buffer.writeInteger(ssrc)
        if playlistIndex < playlist.count {
            buffer.writeBytes(playlist[playlistIndex][frameOffset..<(frameOffset + frame)])
        } else {
            buffer.writeRepeatingByte(MediaFormat.silence(parameters.law), count: frame)
        }
        markerPending = false
        sequenceNumber &+= 1
        timestamp &+= UInt32(frame)
        statistics.packetsSent += 1
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
        advancePlayback()
    }

    private func advancePlayback() {
        guard playlistIndex < playlist.count else { return }
        frameOffset += MediaFormat.samplesPerFrame
        if frameOffset >= playlist[playlistIndex].count {
            frameOffset = 0
            playlistIndex += 1
            if playlistIndex == playlist.count { stopPlayback(with: .finished) }
        }
    }

    func receive(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard closedCause == nil else { return }
        let parsed: (header: RTPHeader, payloadRange: Range<Int>)
        do {
            parsed = try envelope.data.withUnsafeReadableBytes { try RTPPacketView.parse($0) }
        } catch {
            statistics.malformedDropped += 1
            return
        }
        // Symmetric RTP: the first valid packet latches the peer; later packets from any other
        // address are ignored, so nobody can inject audio or keys into a citizen's call.
        if let latched = latchedSource {
            if latched != envelope.remoteAddress {
                statistics.foreignSourceDropped += 1
                return
            }
        }
        let pt = parsed.header.payloadType
        let now = NIODeadline.now()   // one clock read per packet: statistics and the no-media watch
        if pt == parameters.payloadType || pt == parameters.telephoneEventPayloadType || pt == 13 {
            // Audio, events and comfort noise share the stream's SSRC and sequence numbers.
            let arrival = UInt32(truncatingIfNeeded: now.uptimeNanoseconds / 125_000)   // 8 kHz units
            reception.record(ssrc: parsed.header.ssrc, sequence: parsed.header.sequenceNumber,
                             timestamp: parsed.header.timestamp, arrival: arrival)
            statistics.packetsLost = reception.lost
            statistics.jitterMs = Double(reception.jitter) / 8
        }
        if pt == parameters.payloadType {
            accept(from: envelope.remoteAddress, at: now)
            if let target = relayTarget {
                envelope.data.withUnsafeReadableBytes { raw in
                    target.forward(UnsafeRawBufferPointer(rebasing: raw[parsed.payloadRange]), header: parsed.header, law: parameters.law, event: false)
                }
            }
        } else if let te = parameters.telephoneEventPayloadType, pt == te {
            accept(from: envelope.remoteAddress, at: now)
            if let target = relayTarget {
                envelope.data.withUnsafeReadableBytes { raw in
                    target.forward(UnsafeRawBufferPointer(rebasing: raw[parsed.payloadRange]), header: parsed.header, law: parameters.law, event: true)
                }
            }
            let event = envelope.data.withUnsafeReadableBytes { raw in
                TelephoneEvent.parse(UnsafeRawBufferPointer(rebasing: raw[parsed.payloadRange]))
            }
            if let event, let digit = telephoneEvents.receive(event, timestamp: parsed.header.timestamp) {
                deliver(digit)
            }
        } else if pt == 13 {
            accept(from: envelope.remoteAddress, at: now)   // RFC 3389 comfort noise: valid, nothing to play
        } else {
            statistics.unknownPayloadTypeDropped += 1
        }
    }

    /// Sends a packet relayed from the bridged session (on the shared loop).
    private func forward(_ payload: UnsafeRawBufferPointer, header: RTPHeader, law: G711Law, event: Bool) {
        guard closedCause == nil, started, parameters.sends, let channel, let remote = latchedSource ?? parameters.remote else { return }
        let pt: UInt8
        if event {
            guard let te = parameters.telephoneEventPayloadType else { return }
            pt = te
        } else {
            pt = parameters.payloadType
        }
        // A new source stream (first packet, or the peer restarted): re-anchor timestamps so
        // ours continue from where our clock is, and mark the discontinuity.
        if relaySourceSSRC != header.ssrc {
            relaySourceSSRC = header.ssrc
            relayTimestampOffset = timestamp &- header.timestamp
            markerPending = true
        }
        let ts = header.timestamp &+ relayTimestampOffset
        var buffer = channel.allocator.buffer(capacity: 12 + payload.count)
        buffer.writeInteger(UInt8(0x80))
        buffer.writeInteger(((markerPending || header.marker) ? 0x80 : 0) | (pt & 0x7F))
        buffer.writeInteger(sequenceNumber)
        buffer.writeInteger(ts)
        buffer.writeInteger(ssrc)
        if event || law == parameters.law {
            buffer.writeBytes(payload)
        } else {
            for byte in payload { buffer.writeInteger(G711.transcode(byte, from: law, to: parameters.law)) }
        }
        markerPending = false
        sequenceNumber &+= 1
        if !event { timestamp = ts &+ UInt32(payload.count) }
        statistics.packetsSent += 1
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
    }

    private func accept(from source: SocketAddress, at now: NIODeadline) {
        if latchedSource == nil {
            latchedSource = source
            logger.debug("RTP source latched", metadata: ["source": "\(source)", "port": "\(localPort)"])
        }
        statistics.packetsReceived += 1
        lastReceived = now
    }

    private func deliver(_ digit: Character) {
        statistics.digitsReceived += 1
        if let p = digitPromise {
            digitPromise = nil
            digitTimeout?.cancel()
            digitTimeout = nil
            p.succeed(digit)
            return
        }
        queuedDigits.append(digit)
        if queuedDigits.count > 32 { queuedDigits.removeFirst() }   // bounded type-ahead
        if playbackPromise != nil && playbackInterruptible {
            stopPlayback(with: .interrupted(by: digit))
        }
    }
}

/// Receives datagrams on a leg's socket and hands them to the session (on its loop).
final class RTPReceiveHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let session: RTPSession
    init(session: RTPSession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.receive(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP errors on UDP surface here (e.g. port unreachable); they must not close the leg.
    }
}
