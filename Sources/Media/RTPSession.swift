import AudioCodecs
import HotlineCore
import Logging
import NIOCore
import RTP
import Recording

/// What was negotiated for one leg's audio stream (the SDP answer, in media terms).
public struct RTPSessionParameters: Sendable {
    public var codec: MediaCodec
    public var payloadType: UInt8
    /// The caller's RFC 4733 telephone-event payload type, if offered.
    public var telephoneEventPayloadType: UInt8?
    /// The telephone-event clock: 8000, or the audio's (48000 with Opus).
    public var telephoneEventClockRate: Int
    /// Listen for keys as tones in the audio (gateways that send no RFC 4733 events).
    public var detectInbandKeys: Bool
    /// Where the SDP says to send; replaced by the latched source once media arrives
    /// (symmetric RTP). Nil when the offer gave no usable address (e.g. 0.0.0.0).
    public var remote: SocketAddress?
    public var sends: Bool
    public var receives: Bool
    /// Hang up a leg from which no RTP arrived for this long (nil: never).
    public var noMediaTimeout: TimeAmount?

    public init(
        codec: MediaCodec, payloadType: UInt8, telephoneEventPayloadType: UInt8?, telephoneEventClockRate: Int = 8000,
        detectInbandKeys: Bool = false, remote: SocketAddress?,
        sends: Bool = true, receives: Bool = true, noMediaTimeout: TimeAmount?
    ) {
        self.codec = codec
        self.payloadType = payloadType
        self.telephoneEventPayloadType = telephoneEventPayloadType
        self.telephoneEventClockRate = telephoneEventClockRate
        self.detectInbandKeys = detectInbandKeys
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
    /// Keys detected as tones in the audio (also counted in `digitsReceived`).
    public var inbandDigitsReceived: UInt64 = 0
    /// A key reported by two methods at once (RFC 4733 and in-band tones): reported once.
    public var duplicateDigitsSuppressed: UInt64 = 0
    /// Frames concealed on decoded paths (recording, in-band detection).
    public var framesConcealed: UInt64 = 0
    /// Packets re-encoded for a bridged leg with another codec.
    public var packetsTranscoded: UInt64 = 0
    /// RFC 3550 §6.4.1 cumulative loss of the (latest) incoming stream.
    public var packetsLost: UInt64 = 0
    /// RFC 3550 interarrival jitter of the incoming stream, in milliseconds.
    public var jitterMs: Double = 0
    /// Round-trip time from the peer's RTCP receiver reports (RFC 3550 §6.4.1), latest.
    public var roundTripMs: Double?
    /// The peer's view of our stream, from its RTCP reports.
    public var remotePacketsLost: Int64?
    public var remoteJitterMs: Double?
    public var rtcpSent: UInt64 = 0
    public var rtcpReceived: UInt64 = 0
    /// RTCP that did not parse, or came from another address than the peer's.
    public var rtcpDropped: UInt64 = 0
    /// Estimated listening quality (ITU-T G.107 E-model, 1–4.5) of what we received.
    public var mos: Double?
    public init() {}
}

public enum MediaEvent: Sendable, Equatable {
    case noMediaTimeout
}

/// How a key reached us; the same key by two methods at once is one key.
public enum KeyMethod: String, Sendable {
    case rfc4733, inband, info
}

/// One call leg's RTP stream: a UDP socket of its own, a paced sender fed by the loop's
/// `MediaClock`, and a receiver that latches the peer's address and decodes RFC 4733 keys.
/// Audio is only decoded where something needs it (prompts on a non-G.711 leg, transcoding,
/// recording, in-band keys); a same-codec bridge copies payloads.
///
/// Confined to `eventLoop`: every method that is not `public` and `nonisolated`-safe must run
/// there; the public API hops to it.
public final class RTPSession: @unchecked Sendable {
    public let eventLoop: EventLoop
    public let localPort: Int
    private let clock: MediaClock
    private let codecs: CodecSettings
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

    // Playback: G.711 legs send the prompt's pre-encoded bytes; others encode 8 kHz frames.
    private var playlist: [[UInt8]] = []
    private var linearPlaylist: [EncodedPrompt] = []
    private var encoder: AudioEncoder?
    private var encoderCodec: MediaCodec?
    private var promptResampler: Resampler?
    private var promptResamplerRate = 0
    private var encodeScratch: [Int16] = []
    private var payloadScratch: [UInt8] = []
    private var playlistIndex = 0
    private var frameOffset = 0
    private var playbackInterruptible = false
    /// Music on hold and tones repeat until stopped.
    private var playbackLoops = false
    private var playbackPromise: EventLoopPromise<PlaybackOutcome>?

    // Keys.
    private var telephoneEvents = TelephoneEventReceiver()
    private var queuedDigits: [Character] = []
    private var digitPromise: EventLoopPromise<Character?>?
    private var digitTimeout: Scheduled<Void>?
    private var lastKey: (digit: Character, method: KeyMethod, at: NIODeadline)?

    // Receive.
    private var latchedSource: SocketAddress?
    /// RFC 3550 statistics of both directions, and the RTCP reports built from them.
    private var rtcp: RTCPSession
    private let ntpClock: NTPClock
    /// `now` as NTP, refreshed each tick and each received packet (no clock read per send).
    private var ntpNow: NTPTimestamp
    private var rtcpChannel: Channel?
    /// Where the peer's RTCP comes from (latched like RTP); until then RTP port + 1.
    private var rtcpPeer: SocketAddress?
    /// The peer multiplexes RTCP on the RTP port (RFC 5761).
    private var rtcpMuxed = false
    private var nextReport: NIODeadline
    private var lastReceived: NIODeadline
    private var timeoutReported = false
    /// Decoded incoming audio, when recording or in-band detection needs it.
    private var decodedReceiver: DecodedReceiver?
    private var receivedFrame: [Int16] = []
    private var recordingTap: RecordingTap?
    /// Receives each tick's decoded incoming audio (a message being recorded).
    private var audioCapture: (@Sendable ([Int16]) -> Void)?
    /// The rate of decoded audio on this leg (recording, conference mixing, key detection).
    private let decodeRate: Int
    /// A conference this leg is in: it sends the mix instead of relaying or silence.
    private weak var conference: Conference?
    private var conferenceFrame: [Int16] = []

    public private(set) var statistics = RTPStatistics()
    private var closedCause: HangupCause?
    private var started = false

    // Relay (media anchored in a back-to-back call): what we receive goes to `relayTarget`;
    // while another session relays into us, our clock sends only prompts, not silence.
    private weak var relayTarget: RTPSession?
    private var relayedInto = false
    private var relaySourceSSRC: UInt32?
    private var relayTimestampOffset: UInt32 = 0
    /// The source timestamp the offset was anchored at (for clock-rate scaling).
    private var relaySourceAnchor: UInt32 = 0
    private var transcoder: Transcoder?

    init(
        eventLoop: EventLoop, clock: MediaClock, localPort: Int, parameters: RTPSessionParameters,
        codecs: CodecSettings, decodeRate: Int, ntpClock: NTPClock, logger: Logger,
        onEvent: @escaping @Sendable (MediaEvent) -> Void,
        onClose: @escaping @Sendable (RTPSession) -> Void
    ) {
        self.eventLoop = eventLoop
        self.clock = clock
        self.localPort = localPort
        self.parameters = parameters
        self.codecs = codecs
        self.decodeRate = decodeRate
        self.logger = logger
        self.onEvent = onEvent
        self.onClose = onClose
        var rng = SystemRandomNumberGenerator()
        self.ssrc = UInt32.random(in: .min ... .max, using: &rng)
        self.sequenceNumber = UInt16.random(in: .min ... .max, using: &rng)
        self.timestamp = UInt32.random(in: .min ... .max, using: &rng)
        let now = NIODeadline.now()
        self.lastReceived = now
        self.ntpClock = ntpClock
        self.ntpNow = ntpClock.timestamp(monotonicNanoseconds: now.uptimeNanoseconds)
        self.rtcp = RTCPSession(ssrc: ssrc, cname: "hotline-\(localPort)", clockRate: UInt32(parameters.codec.rtpClockRate))
        self.nextReport = now + TimeAmount(duration: RTCPSession.reportDelay(initial: true, using: &rng))
    }

    func attach(_ channel: Channel, rtcp: Channel) {
        eventLoop.assertInEventLoop()
        self.channel = channel
        self.rtcpChannel = rtcp
    }

    /// Stops whatever plays (music on hold, a tone); the bridged party is heard again.
    public func stopPlayback() {
        eventLoop.execute { [self] in stopPlayback(with: .finished) }
    }

    /// Starts sending (silence until something plays) and the no-media watch. Called when the
    /// call is answered; before that the socket only receives. Idempotent.
    public func start() {
        eventLoop.execute { [self] in
            guard closedCause == nil, !started else { return }
            started = true
            lastReceived = .now()
            configureDecodedPath()   // in-band key detection, when negotiated so
            clock.add(self)
        }
    }

    // MARK: Public operations (any thread)

    /// Plays the prompts in order; completes with `.finished`, or `.interrupted` when a key
    /// arrives during an interruptible playback. Fails with `CallEnded` once the leg closes.
    public func play(_ prompts: [EncodedPrompt], interruptible: Bool, loop: Bool = false) -> EventLoopFuture<PlaybackOutcome> {
        eventLoop.flatSubmit { [self] in
            if let cause = closedCause { return eventLoop.makeFailedFuture(CallEnded(cause: cause)) }
            if interruptible, let digit = queuedDigits.first {
                return eventLoop.makeSucceededFuture(.interrupted(by: digit))
            }
            stopPlayback(with: .finished)   // a new playback replaces the old one
            linearPlaylist = prompts.filter { !$0.linear.isEmpty }
            if let law = parameters.codec.law {
                playlist = linearPlaylist.map { $0.payload(for: law) }
            } else {
                playlist = linearPlaylist.map { _ in [] }   // encoded frame by frame
            }
            playlistIndex = 0
            frameOffset = 0
            playbackInterruptible = interruptible
            playbackLoops = loop
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
            if new.codec != parameters.codec {
                transcoder = nil
                try? decodedReceiver?.change(codec: new.codec)
                if let law = new.codec.law, playlistIndex < linearPlaylist.count {
                    playlist = linearPlaylist.map { $0.payload(for: law) }
                }
            }
            parameters = new
            configureDecodedPath()
            lastReceived = .now()
        }
    }

    /// A key that arrived in signalling (SIP INFO) rather than in the media.
    public func injectDigit(_ digit: Character) {
        eventLoop.execute { [self] in
            guard closedCause == nil else { return }
            deliver(digit, method: .info)
        }
    }

    /// Records this leg in stereo from now on: its party left, what it hears right. A
    /// recording already running is replaced (and returned by the future).
    /// The recorder's sample rate must be the engine's decode rate.
    public func startRecording(_ recorder: CallRecorder) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            guard closedCause == nil else { return }
            guard recorder.settings.sampleRate == decodeRate else {
                logger.error("recording rate differs from the media decode rate", metadata: [
                    "recording": "\(recorder.settings.sampleRate)", "decode": "\(decodeRate)"])
                return
            }
            recordingTap = RecordingTap(recorder: recorder, rate: decodeRate, settings: codecs)
            configureDecodedPath()
        }
    }

    /// Hands every 20 ms of the party's decoded audio (at `decodeRate`, through the jitter
    /// buffer) to `capture` until `stopCapture`: a message being recorded.
    public func startCapture(_ capture: @escaping @Sendable ([Int16]) -> Void) -> EventLoopFuture<Int> {
        eventLoop.submit { [self] in
            audioCapture = capture
            configureDecodedPath()
            return decodeRate
        }
    }

    public func stopCapture() {
        eventLoop.execute { [self] in
            audioCapture = nil
            configureDecodedPath()
        }
    }

    /// Stops recording; the recorder is handed back to be finished by the caller.
    public func stopRecording() -> EventLoopFuture<CallRecorder?> {
        eventLoop.submit { [self] in
            let recorder = recordingTap?.recorder
            recordingTap = nil
            configureDecodedPath()
            return recorder
        }
    }

    /// Relays media both ways between this session and `other` (a bridge of two legs): audio
    /// is forwarded as it arrives (copied on a same-codec bridge, transcoded otherwise),
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

    /// Joined a conference (called by `Conference.join`, on the loop): relaying stops.
    func enterConference(_ c: Conference) {
        if let target = relayTarget {
            target.detachRelay(from: self)
            relayTarget = nil
        }
        relayedInto = false
        conference = c
        configureDecodedPath()
    }

    func leaveConference(_ c: Conference) {
        guard conference === c else { return }
        conference = nil
        configureDecodedPath()
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
        if let r = decodedReceiver { statistics.framesConcealed += r.concealedFrames }
        decodedReceiver = nil
        recordingTap = nil
        conference?.memberClosed(self)
        conference = nil
        if started { sendReport(goodbye: true) }
        statistics.mos = estimatedQuality()
        rtcpChannel?.close(promise: nil)
        rtcpChannel = nil
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

    /// A decoded view of the incoming audio exists exactly while something consumes it.
    private func configureDecodedPath() {
        let wanted = recordingTap != nil || parameters.detectInbandKeys || conference != nil || audioCapture != nil
        guard wanted else {
            if let r = decodedReceiver { statistics.framesConcealed += r.concealedFrames }
            decodedReceiver = nil
            return
        }
        if let r = decodedReceiver {
            if parameters.detectInbandKeys { r.enableKeyDetection() } else { r.disableKeyDetection() }
            return
        }
        do {
            receivedFrame = [Int16](repeating: 0, count: decodeRate / 50)
            decodedReceiver = try DecodedReceiver(codec: parameters.codec, outputRate: decodeRate, settings: codecs,
                                                  detectKeys: parameters.detectInbandKeys)
        } catch {
            logger.error("cannot decode incoming audio", metadata: ["codec": "\(parameters.codec.name)", "error": "\(error)"])
        }
    }

    private func stopPlayback(with outcome: PlaybackOutcome) {
        linearPlaylist = []
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
        ntpNow = ntpClock.timestamp(monotonicNanoseconds: now.uptimeNanoseconds)
        if now >= nextReport {
            var rng = SystemRandomNumberGenerator()
            nextReport = now + TimeAmount(duration: RTCPSession.reportDelay(using: &rng))
            sendReport(goodbye: false)
        }
        // What the party said this tick, decoded (for the recording, in-band keys, a conference).
        var keys: [Character] = []
        if let receiver = decodedReceiver {
            keys = receiver.nextFrame(nowMs: now.uptimeNanoseconds / 1_000_000, into: &receivedFrame)
            conference?.submit(self, frame: receivedFrame)
        }
        let playing = playlistIndex < linearPlaylist.count
        if let conference, !playing {
            conference.mix(for: self, into: &conferenceFrame)
            if parameters.sends, let channel, let remote = latchedSource ?? parameters.remote {
                sendMixed(channel: channel, to: remote)
            } else {
                timestamp &+= parameters.codec.timestampsPerFrame
            }
        } else if relayedInto, !playing {
            // The bridged leg's packets are our stream; keep our clock moving for later prompts.
            timestamp &+= parameters.codec.timestampsPerFrame
        } else if parameters.sends, let channel, let remote = latchedSource ?? parameters.remote {
            sendFrame(channel: channel, to: remote)
        } else {
            recordingTap?.sent(prompt: nil)
            advancePlayback()
        }
        if decodedReceiver != nil {
            recordingTap?.tick(said: receivedFrame)
            audioCapture?(receivedFrame)
        }
        for key in keys {
            statistics.inbandDigitsReceived += 1
            deliver(key, method: .inband)
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
        let playing = playlistIndex < linearPlaylist.count
        if let tap = recordingTap {
            if playing {
                linearPlaylist[playlistIndex].linear.withUnsafeBufferPointer {
                    tap.sent(prompt: UnsafeBufferPointer(rebasing: $0[frameOffset..<(frameOffset + frame)]))
                }
            } else {
                tap.sent(prompt: nil)
            }
        }
        var buffer: ByteBuffer
        if let law = parameters.codec.law {
            buffer = channel.allocator.buffer(capacity: 12 + frame)
            writeHeader(into: &buffer, payloadType: parameters.payloadType, timestamp: timestamp)
            if playing {
                buffer.writeBytes(playlist[playlistIndex][frameOffset..<(frameOffset + frame)])
            } else {
                buffer.writeRepeatingByte(MediaFormat.silence(law), count: frame)
            }
        } else {
            guard encodeFrame(playing: playing) else {
                advancePlayback()
                return
            }
            buffer = channel.allocator.buffer(capacity: 12 + payloadScratch.count)
            writeHeader(into: &buffer, payloadType: parameters.payloadType, timestamp: timestamp)
            buffer.writeBytes(payloadScratch)
        }
        markerPending = false
        sequenceNumber &+= 1
        rtcp.recordSent(rtpTimestamp: timestamp, payloadOctets: buffer.readableBytes - 12, at: ntpNow)
        timestamp &+= parameters.codec.timestampsPerFrame
        statistics.packetsSent += 1
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
        advancePlayback()
    }

    private func writeHeader(into buffer: inout ByteBuffer, payloadType: UInt8, timestamp: UInt32, marker: Bool = false) {
        buffer.writeInteger(UInt8(0x80))   // V=2, no padding, no extension, no CSRC
        buffer.writeInteger(((markerPending || marker) ? 0x80 : 0) | (payloadType & 0x7F))
        buffer.writeInteger(sequenceNumber)
        buffer.writeInteger(timestamp)
        buffer.writeInteger(ssrc)
    }

    /// Encodes the current 8 kHz prompt frame (or silence) for a non-G.711 leg into
    /// `payloadScratch`. False when there is nothing to send (encoder unavailable, DTX).
    private func encodeFrame(playing: Bool) -> Bool {
        guard playing else { return encode(pcm: nil, rate: 8000) }
        let frame = MediaFormat.samplesPerFrame
        return linearPlaylist[playlistIndex].linear.withUnsafeBufferPointer { all in
            encode(pcm: UnsafeBufferPointer(rebasing: all[frameOffset..<(frameOffset + frame)]), rate: 8000)
        }
    }

    /// Encodes one 20 ms frame of `rate` audio (nil: silence) in the leg's codec into
    /// `payloadScratch`, resampling as needed. False when there is nothing to send.
    private func encode(pcm: UnsafeBufferPointer<Int16>?, rate: Int) -> Bool {
        let codec = parameters.codec
        let codecRate = codecs.sampleRate(of: codec)
        if encoderCodec != codec || promptResamplerRate != rate {
            if encoderCodec != codec {
                encoder = try? codecs.makeEncoder(codec)
                if encoder == nil { logger.error("no encoder", metadata: ["codec": "\(codec.name)"]) }
            }
            encoderCodec = codec
            promptResamplerRate = rate
            promptResampler = rate == codecRate ? nil : Resampler(from: rate, to: codecRate)
        }
        guard let encoder else { return false }
        encodeScratch.removeAll(keepingCapacity: true)
        if let pcm {
            if var r = promptResampler {
                r.process(pcm, into: &encodeScratch)
                promptResampler = r
            } else {
                encodeScratch.append(contentsOf: pcm)
            }
        } else {
            encodeScratch.append(contentsOf: repeatElement(0, count: codecRate / 50))
        }
        payloadScratch.removeAll(keepingCapacity: true)
        _ = encodeScratch.withUnsafeBufferPointer { encoder.encode($0, into: &payloadScratch) }
        return !payloadScratch.isEmpty
    }

    /// Sends this tick's conference mix (at the decode rate) in the leg's codec.
    private func sendMixed(channel: Channel, to remote: SocketAddress) {
        let ok = conferenceFrame.withUnsafeBufferPointer { encode(pcm: $0, rate: decodeRate) }
        if let tap = recordingTap { conferenceFrame.withUnsafeBufferPointer { tap.sent(pcm: $0, rate: decodeRate) } }
        guard ok else {
            timestamp &+= parameters.codec.timestampsPerFrame
            return
        }
        var buffer = channel.allocator.buffer(capacity: 12 + payloadScratch.count)
        writeHeader(into: &buffer, payloadType: parameters.payloadType, timestamp: timestamp)
        buffer.writeBytes(payloadScratch)
        send(buffer, timestamp: timestamp, on: channel, to: remote)
        timestamp &+= parameters.codec.timestampsPerFrame
    }

    private func advancePlayback() {
        guard playlistIndex < linearPlaylist.count else { return }
        frameOffset += MediaFormat.samplesPerFrame
        if frameOffset >= linearPlaylist[playlistIndex].linear.count {
            frameOffset = 0
            playlistIndex += 1
            if playlistIndex == linearPlaylist.count {
                if playbackLoops { playlistIndex = 0 } else { stopPlayback(with: .finished) }
            }
        }
    }

    func receive(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard closedCause == nil else { return }
        // RFC 5761 §4: RTCP multiplexed on the RTP port has packet types 192–223 in byte 2.
        if envelope.data.readableBytes >= 2, let second = envelope.data.getInteger(at: envelope.data.readerIndex + 1, as: UInt8.self),
            (192...223).contains(second)
        {
            receiveRTCP(envelope, muxed: true)
            return
        }
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
            ntpNow = ntpClock.timestamp(monotonicNanoseconds: now.uptimeNanoseconds)
            rtcp.recordReceived(ssrc: parsed.header.ssrc, sequence: parsed.header.sequenceNumber,
                                timestamp: parsed.header.timestamp, at: ntpNow)
            statistics.packetsLost = rtcp.reception.lost
            statistics.jitterMs = rtcp.jitterMs
        }
        if pt == parameters.payloadType {
            accept(from: envelope.remoteAddress, at: now)
            envelope.data.withUnsafeReadableBytes { raw in
                let payload = UnsafeRawBufferPointer(rebasing: raw[parsed.payloadRange])
                decodedReceiver?.insert(payload, sequence: parsed.header.sequenceNumber, timestamp: parsed.header.timestamp,
                                        ssrc: parsed.header.ssrc, arrivalMs: now.uptimeNanoseconds / 1_000_000)
                relayTarget?.forward(payload, header: parsed.header, codec: parameters.codec, eventClockRate: parameters.telephoneEventClockRate, event: false)
            }
        } else if let te = parameters.telephoneEventPayloadType, pt == te {
            accept(from: envelope.remoteAddress, at: now)
            let event = envelope.data.withUnsafeReadableBytes { raw in
                let payload = UnsafeRawBufferPointer(rebasing: raw[parsed.payloadRange])
                relayTarget?.forward(payload, header: parsed.header, codec: parameters.codec, eventClockRate: parameters.telephoneEventClockRate, event: true)
                return TelephoneEvent.parse(payload)
            }
            if let event, let digit = telephoneEvents.receive(event, timestamp: parsed.header.timestamp) {
                deliver(digit, method: .rfc4733)
            }
        } else if pt == 13 {
            accept(from: envelope.remoteAddress, at: now)   // RFC 3389 comfort noise: valid, nothing to play
        } else {
            statistics.unknownPayloadTypeDropped += 1
        }
    }

    /// Sends a packet relayed from the bridged session (on the shared loop): copied when both
    /// legs use the same codec, through the G.711 tables between µ-law and A-law, decoded and
    /// re-encoded otherwise. Our SSRC, sequence numbers and timestamps continue across the
    /// bridged party's changes (re-INVITE, new source after a transfer).
    private func forward(_ payload: UnsafeRawBufferPointer, header: RTPHeader, codec source: MediaCodec, eventClockRate: Int, event: Bool) {
        guard closedCause == nil, started, parameters.sends, let channel, let remote = latchedSource ?? parameters.remote else { return }
        // A prompt or music playing to this leg (hold) has priority over the bridged party.
        guard playlistIndex >= linearPlaylist.count else { return }
        let ours = parameters.codec
        // A new source stream (first packet, or the peer restarted): re-anchor timestamps so
        // ours continue from where our clock is, and mark the discontinuity.
        if relaySourceSSRC != header.ssrc {
            relaySourceSSRC = header.ssrc
            relaySourceAnchor = header.timestamp
            relayTimestampOffset = timestamp
            markerPending = true
            transcoder = nil
        }
        // The source's timestamps mapped onto our clock (rates differ with the codecs).
        let elapsed = Int64(Int32(bitPattern: header.timestamp &- relaySourceAnchor))
        let ts = relayTimestampOffset &+ UInt32(truncatingIfNeeded: elapsed * Int64(ours.rtpClockRate) / Int64(source.rtpClockRate))

        if event {
            guard let te = parameters.telephoneEventPayloadType, payload.count >= TelephoneEvent.size else { return }
            var buffer = channel.allocator.buffer(capacity: 12 + payload.count)
            writeHeader(into: &buffer, payloadType: te, timestamp: ts, marker: header.marker)
            if eventClockRate == parameters.telephoneEventClockRate {
                buffer.writeBytes(payload)
            } else {
                // RFC 4733 §2.5.1.3: the duration is in the event clock's units.
                buffer.writeBytes(payload[payload.startIndex..<(payload.startIndex + 2)])
                let duration = UInt16(payload[payload.startIndex + 2]) << 8 | UInt16(payload[payload.startIndex + 3])
                let scaled = Int(duration) * parameters.telephoneEventClockRate / max(eventClockRate, 1)
                buffer.writeInteger(UInt16(clamping: scaled))
                buffer.writeBytes(payload[(payload.startIndex + 4)...])
            }
            send(buffer, timestamp: ts, on: channel, to: remote)
            return
        }

        if source == ours || (source.law != nil && ours.law != nil) {
            var buffer = channel.allocator.buffer(capacity: 12 + payload.count)
            writeHeader(into: &buffer, payloadType: parameters.payloadType, timestamp: ts, marker: header.marker)
            if source == ours {
                buffer.writeBytes(payload)
            } else {
                for byte in payload { buffer.writeInteger(G711.transcode(byte, from: source.law!, to: ours.law!)) }
            }
            if let tap = recordingTap {
                buffer.withUnsafeReadableBytes { tap.sent(payload: UnsafeRawBufferPointer(rebasing: $0[12...]), codec: ours) }
            }
            timestamp = ts &+ UInt32(truncatingIfNeeded: source.law != nil ? payload.count : Int(ours.timestampsPerFrame))
            send(buffer, timestamp: ts, on: channel, to: remote)
            return
        }

        if transcoder?.source != source || transcoder?.target != ours {
            do {
                transcoder = try Transcoder(from: source, to: ours, settings: codecs)
            } catch {
                logger.error("cannot transcode", metadata: ["from": "\(source.name)", "to": "\(ours.name)", "error": "\(error)"])
                return
            }
        }
        transcoder?.transcode(payload, sequence: header.sequenceNumber, timestamp: ts) { encoded, frameTimestamp in
            var buffer = channel.allocator.buffer(capacity: 12 + encoded.count)
            writeHeader(into: &buffer, payloadType: parameters.payloadType, timestamp: frameTimestamp, marker: header.marker)
            buffer.writeBytes(encoded)
            encoded.withUnsafeBytes { recordingTap?.sent(payload: $0, codec: ours) }
            timestamp = frameTimestamp &+ ours.timestampsPerFrame
            statistics.packetsTranscoded += 1
            send(buffer, timestamp: frameTimestamp, on: channel, to: remote)
        }
    }

    private func send(_ buffer: ByteBuffer, timestamp ts: UInt32, on channel: Channel, to remote: SocketAddress) {
        markerPending = false
        sequenceNumber &+= 1
        statistics.packetsSent += 1
        rtcp.recordSent(rtpTimestamp: ts, payloadOctets: buffer.readableBytes - 12, at: ntpNow)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
    }

    // MARK: RTCP

    /// An RTCP datagram, on the RTCP socket or multiplexed on the RTP one. Only the peer's
    /// address may report: anything else is dropped like foreign RTP.
    func receiveRTCP(_ envelope: AddressedEnvelope<ByteBuffer>, muxed: Bool) {
        guard closedCause == nil else { return }
        if let peer = rtcpPeer {
            guard peer == envelope.remoteAddress else {
                statistics.rtcpDropped += 1
                return
            }
        } else if let latched = latchedSource, latched.ipAddress != envelope.remoteAddress.ipAddress {
            statistics.rtcpDropped += 1
            return
        }
        let packets: [RTCPPacket]
        do {
            packets = try envelope.data.withUnsafeReadableBytes { raw throws(RTCPParseError) in try RTCPPacket.parseCompound(raw) }
        } catch {
            statistics.rtcpDropped += 1
            return
        }
        if rtcpPeer == nil {
            rtcpPeer = envelope.remoteAddress
            rtcpMuxed = muxed
        }
        statistics.rtcpReceived += 1
        let result = rtcp.receive(packets, at: ntpClock.timestamp(monotonicNanoseconds: NIODeadline.now().uptimeNanoseconds))
        if let rtt = result.roundTripMs { statistics.roundTripMs = rtt }
        if let remote = rtcp.remoteReception {
            statistics.remotePacketsLost = Int64(remote.cumulativeLost)
            statistics.remoteJitterMs = remote.jitterMs
        }
    }

    /// Our SR/RR + SDES (and BYE when the leg ends), to where the peer's RTCP comes from, else
    /// to its RTP address with the port + 1 (RFC 3550 §11).
    private func sendReport(goodbye: Bool) {
        guard parameters.sends || parameters.receives, let rtp = latchedSource ?? parameters.remote else { return }
        let destination: SocketAddress
        if let peer = rtcpPeer {
            destination = peer
        } else if let ip = rtp.ipAddress, let port = rtp.port, let address = try? SocketAddress(ipAddress: ip, port: port + 1) {
            destination = address
        } else {
            return
        }
        guard let out = rtcpMuxed ? channel : rtcpChannel else { return }
        let bytes = goodbye ? rtcp.makeGoodbye(at: ntpNow) : rtcp.makeReport(at: ntpNow)
        var buffer = out.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        statistics.rtcpSent += 1
        out.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
    }

    /// The E-model estimate of what this leg received (loss, jitter, round trip, codec).
    private func estimatedQuality() -> Double? {
        guard rtcp.reception.received > 0 else { return nil }
        let impairment: CodecImpairment
        switch parameters.codec {
        case .pcmu, .pcma: impairment = .g711WithPLC   // phones conceal G.711 losses (G.711 Appendix I)
        case .g722: impairment = .g722
        case .opus: impairment = .opus
        }
        return rtcp.estimatedListeningQuality(codec: impairment).mos
    }

    private func accept(from source: SocketAddress, at now: NIODeadline) {
        if latchedSource == nil {
            latchedSource = source
            logger.debug("RTP source latched", metadata: ["source": "\(source)", "port": "\(localPort)"])
        }
        statistics.packetsReceived += 1
        lastReceived = now
    }

    private func deliver(_ digit: Character, method: KeyMethod) {
        // A gateway may send a key both as RFC 4733 events and as tones (or INFO as well):
        // the same key by another method within 300 ms is the same press.
        let now = NIODeadline.now()
        if let last = lastKey, last.digit == digit, last.method != method, now - last.at < .milliseconds(300) {
            statistics.duplicateDigitsSuppressed += 1
            return
        }
        lastKey = (digit, method, now)
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

/// Receives datagrams on a leg's RTCP socket (RTP port + 1).
final class RTCPReceiveHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let session: RTPSession
    init(session: RTPSession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.receiveRTCP(unwrapInboundIn(data), muxed: false)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}

extension TimeAmount {
    init(duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
