// RTCP state of one call leg's media stream (RFC 3550 §6): our sender report and our
// reception report about the peer's stream, and what the peer's reports say about ours.
// Pure: no sockets, timers or clocks; the caller passes every time and does the I/O.

/// What the peer's latest report block says about the stream we send.
public struct RemoteReception: Sendable, Equatable {
    /// The SSRC of the peer that sent the report.
    public var reporterSSRC: UInt32
    /// Fraction of our packets lost in the peer's last report interval, 0...1.
    public var fractionLost: Double
    /// Our packets the peer counts as lost since it began receiving (negative: duplicates).
    public var cumulativeLost: Int32
    /// The extended highest sequence number the peer received from us.
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter of our stream at the peer, in ms.
    public var jitterMs: Double
    /// When the report arrived.
    public var receivedAt: NTPTimestamp

    public init(reporterSSRC: UInt32, fractionLost: Double, cumulativeLost: Int32, extendedHighestSequence: UInt32,
                jitterMs: Double, receivedAt: NTPTimestamp) {
        self.reporterSSRC = reporterSSRC
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitterMs = jitterMs
        self.receivedAt = receivedAt
    }
}

/// The RTCP side of one RTP session with one remote source (a two-party call leg).
///
/// Inputs, each with the current time as an `NTPTimestamp` from a clock that never steps
/// (see `NTPClock`): every RTP packet sent (`recordSent`) and received (`recordReceived`),
/// every RTCP compound packet received (`receive`), and the report timer firing
/// (`makeReport`). The caller schedules that timer with `reportDelay`.
///
/// Report interval: RFC 3550 §6.2 and appendix A.7 scale the interval with the session's
/// membership and bandwidth, with a 5 s minimum. A two-party voice call at 64 kbit/s always
/// lands on that minimum, so this type uses a fixed 5 s nominal interval (2.5 s before the
/// first report, as §6.2 allows), randomised to 0.5...1.5 times the nominal value as §6.2
/// requires so that reports of many calls do not synchronise. Without timer reconsideration
/// the e - 3/2 compensation of A.7 does not apply.
public struct RTCPSession: Sendable {
    /// The nominal interval between reports.
    public static let reportInterval: Duration = .seconds(5)
    /// How many of our recent SR timestamps are remembered; a peer's LSR must echo one of
    /// them for its round trip to be measured (older or forged values are ignored).
    static let senderReportHistory = 8

    /// What `receive` found in one compound packet.
    public struct ReceiveResult: Sendable, Equatable {
        /// A report block about our stream arrived; `remoteReception` is updated.
        public var remoteReportUpdated = false
        /// The round-trip time measured from that block, in ms.
        public var roundTripMs: Double?
        /// A BYE for a source other than ours: the peer's stream ended.
        public var goodbye: RTCPGoodbye?

        public init() {}
    }

    /// Our stream's SSRC (the same as in our RTP packets).
    public let ssrc: UInt32
    /// Our canonical name, sent in every report (§6.5.1), e.g. "hotline@192.0.2.10".
    public let cname: String
    /// RTP timestamp units per second of both streams (8,000 for G.711).
    public let clockRate: UInt32

    // MARK: Sending side (the SR sender info)

    /// RTP packets sent (wraps, §6.4.1).
    public private(set) var packetsSent: UInt32 = 0
    /// RTP payload octets sent, headers and padding excluded (wraps, §6.4.1).
    public private(set) var octetsSent: UInt32 = 0
    /// The RTP timestamp of the latest packet sent.
    public private(set) var lastRTPTimestampSent: UInt32?
    private var lastSentAt: NTPTimestamp?
    /// Whether we sent RTP since the previous report, and in the interval before: we send an
    /// SR rather than an RR if we sent since the report before the previous one (§6.4).
    private var sentThisInterval = false
    private var sentPreviousInterval = false
    /// `compact` NTP times of our latest SRs, oldest first.
    private var recentSenderReports: [UInt32] = []

    // MARK: Receiving side (our report block about the peer's stream)

    /// Sequence, loss and jitter statistics of the incoming stream.
    public private(set) var reception = ReceptionStatistics()
    /// A.3: expected and received counts at the previous report, for the interval's loss.
    private var expectedPrior: UInt64 = 0
    private var receivedPrior: UInt64 = 0
    private var heardSinceReport = false
    /// The fraction lost (of 256) in our latest report block.
    public private(set) var fractionLost: UInt8 = 0
    /// The latest SR from the peer: its `compact` NTP time (our LSR) and when it arrived.
    private var lastRemoteSenderReport: (ssrc: UInt32, compact: UInt32, arrival: NTPTimestamp)?
    /// The peer's CNAME, from its SDES.
    public private(set) var remoteCNAME: String?

    // MARK: The peer's view of our stream

    /// The peer's latest report block about our stream.
    public private(set) var remoteReception: RemoteReception?
    /// The latest round-trip time measured (§6.4.1), in ms.
    public private(set) var roundTripMs: Double?

    /// - Parameters:
    ///   - ssrc: our stream's SSRC.
    ///   - cname: our canonical name (at most 255 bytes of UTF-8 are sent).
    ///   - clockRate: RTP timestamp units per second; must be positive.
    public init(ssrc: UInt32, cname: String, clockRate: UInt32) {
        precondition(clockRate > 0, "RTP clock rate must be positive")
        self.ssrc = ssrc
        self.cname = cname
        self.clockRate = clockRate
    }

    // MARK: Inputs

    /// Records one RTP packet we sent with `payloadOctets` bytes of payload at `now`.
    public mutating func recordSent(rtpTimestamp: UInt32, payloadOctets: Int, at now: NTPTimestamp) {
        packetsSent &+= 1
        octetsSent &+= UInt32(truncatingIfNeeded: max(payloadOctets, 0))
        lastRTPTimestampSent = rtpTimestamp
        lastSentAt = now
        sentThisInterval = true
    }

    /// Records one RTP packet received from the peer at `now`.
    public mutating func recordReceived(ssrc packetSSRC: UInt32, sequence: UInt16, timestamp: UInt32,
                                        at now: NTPTimestamp) {
        let before = reception
        reception.record(ssrc: packetSSRC, sequence: sequence, timestamp: timestamp, arrival: rtpUnits(now))
        if reception.ssrc != before.ssrc || reception.received < before.received {
            // A new source or a sequence restart (A.1): the counts start over, so does the interval.
            expectedPrior = 0
            receivedPrior = 0
        }
        if reception.received != before.received || reception.ssrc != before.ssrc {
            heardSinceReport = true
        }
    }

    /// Takes in a received compound RTCP packet (from `RTCPPacket.parseCompound`) at `now`.
    ///
    /// Packets whose sender SSRC is our own (our reports looped back, or an SSRC collision,
    /// §8.2) are ignored, and so are report blocks about other sources.
    @discardableResult
    public mutating func receive(_ packets: [RTCPPacket], at now: NTPTimestamp) -> ReceiveResult {
        var result = ReceiveResult()
        for packet in packets {
            switch packet {
            case .senderReport(let sr):
                guard sr.ssrc != ssrc else { continue }
                if reception.ssrc == nil || reception.ssrc == sr.ssrc {
                    lastRemoteSenderReport = (sr.ssrc, sr.ntpTimestamp.compact, now)
                }
                takeReportBlocks(sr.reportBlocks, from: sr.ssrc, at: now, into: &result)
            case .receiverReport(let rr):
                guard rr.ssrc != ssrc else { continue }
                takeReportBlocks(rr.reportBlocks, from: rr.ssrc, at: now, into: &result)
            case .sourceDescription(let sdes):
                if let chunk = sdes.chunks.first(where: { $0.ssrc != ssrc && $0.cname != nil }) {
                    remoteCNAME = chunk.cname
                }
            case .goodbye(let bye):
                if bye.ssrcs.contains(where: { $0 != ssrc }) { result.goodbye = bye }
            case .other:
                continue
            }
        }
        return result
    }

    private mutating func takeReportBlocks(_ blocks: [RTCPReportBlock], from reporter: UInt32, at now: NTPTimestamp,
                                           into result: inout ReceiveResult) {
        for block in blocks where block.ssrc == ssrc {
            remoteReception = RemoteReception(
                reporterSSRC: reporter, fractionLost: Double(block.fractionLost) / 256,
                cumulativeLost: block.cumulativeLost, extendedHighestSequence: block.extendedHighestSequence,
                jitterMs: milliseconds(rtpUnits: block.jitter), receivedAt: now)
            result.remoteReportUpdated = true
            // §6.4.1: RTT = A - LSR - DLSR, all in 1/65,536 s, A the arrival time's middle 32 bits.
            // LSR 0 means the peer has no SR from us yet.
            guard block.lastSenderReport != 0, recentSenderReports.contains(block.lastSenderReport) else { continue }
            let rtt = now.compact &- block.lastSenderReport &- block.delaySinceLastSenderReport
            guard Int32(bitPattern: rtt) >= 0 else { continue }   // DLSR longer than the round trip: bogus
            let ms = Double(rtt) * 1000 / 65_536
            roundTripMs = ms
            result.roundTripMs = ms
        }
    }

    // MARK: Reports

    /// The packets of our next report at `now`: an SR if we sent RTP since the report before
    /// the previous one, else an RR; with a report block about the peer's stream if we heard
    /// from it since the last report; then an SDES with our CNAME (§6.1). Starts a new
    /// report interval, so call it once per report actually sent.
    public mutating func makeReportPackets(at now: NTPTimestamp) -> [RTCPPacket] {
        let blocks = makeReportBlock(at: now).map { [$0] } ?? []
        var packets: [RTCPPacket] = []
        if sentThisInterval || sentPreviousInterval, let lastTimestamp = lastRTPTimestampSent, let lastSentAt {
            // §6.4.1: the RTP timestamp of the same instant as the NTP one, extrapolated from
            // the last packet sent at the stream's clock rate.
            let elapsed = UInt64(max(now.units(since: lastSentAt), 0))
            let ticks = UInt32(truncatingIfNeeded: elapsed.multipliedFullWidth(by: UInt64(clockRate)).low >> 32)
            packets.append(.senderReport(RTCPSenderReport(
                ssrc: ssrc, ntpTimestamp: now, rtpTimestamp: lastTimestamp &+ ticks,
                packetCount: packetsSent, octetCount: octetsSent, reportBlocks: blocks)))
            recentSenderReports.append(now.compact)
            if recentSenderReports.count > Self.senderReportHistory { recentSenderReports.removeFirst() }
        } else {
            packets.append(.receiverReport(RTCPReceiverReport(ssrc: ssrc, reportBlocks: blocks)))
        }
        packets.append(.sourceDescription(RTCPSourceDescription(chunks: [.init(ssrc: ssrc, cname: cname)])))
        sentPreviousInterval = sentThisInterval
        sentThisInterval = false
        return packets
    }

    /// `makeReportPackets(at:)` as one compound packet, ready to send.
    public mutating func makeReport(at now: NTPTimestamp) -> [UInt8] {
        RTCPPacket.compound(makeReportPackets(at: now))
    }

    /// Our last compound packet when the stream ends (§6.1, §6.6): the report, the SDES and a
    /// BYE for our SSRC with an optional reason.
    public mutating func makeGoodbye(at now: NTPTimestamp, reason: String? = nil) -> [UInt8] {
        var packets = makeReportPackets(at: now)
        packets.append(.goodbye(RTCPGoodbye(ssrcs: [ssrc], reason: reason)))
        return RTCPPacket.compound(packets)
    }

    /// Our report block about the peer's stream (§6.4.1, A.3), or nil if we heard nothing
    /// since the last report. Starts a new loss interval.
    private mutating func makeReportBlock(at now: NTPTimestamp) -> RTCPReportBlock? {
        guard let source = reception.ssrc, heardSinceReport else { return nil }
        heardSinceReport = false
        let expected = reception.expected
        let received = reception.received
        // A.3: loss in this interval from the differences of the cumulative counts.
        let expectedInterval = expected >= expectedPrior ? expected - expectedPrior : expected
        let receivedInterval = received >= receivedPrior ? received - receivedPrior : received
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = Int64(clamping: expectedInterval) - Int64(clamping: receivedInterval)
        if expectedInterval == 0 || lostInterval <= 0 {
            fractionLost = 0
        } else {
            fractionLost = UInt8(min(255, (UInt64(lostInterval) << 8) / expectedInterval))
        }

        var lsr: UInt32 = 0
        var dlsr: UInt32 = 0
        if let sr = lastRemoteSenderReport, sr.ssrc == source {
            lsr = sr.compact
            // Delay in 1/65,536 s: NTP units (2^-32 s) shifted right by 16.
            let delay = max(now.units(since: sr.arrival), 0) >> 16
            dlsr = UInt32(clamping: delay)
        }
        return RTCPReportBlock(
            ssrc: source, fractionLost: fractionLost,
            cumulativeLost: RTCPReportBlock.clampedCumulativeLost(Int64(clamping: expected) - Int64(clamping: received)),
            extendedHighestSequence: reception.extendedHighestSequence, jitter: reception.jitter,
            lastSenderReport: lsr, delaySinceLastSenderReport: dlsr)
    }

    // MARK: Timing

    /// The delay until the next report: the nominal 5 s (2.5 s before the first report)
    /// times 0.5 + `randomUnit`, where `randomUnit` is uniform in 0..<1 (clamped to 0...1; NaN
    /// reads as 0.5). See the type's comment for why the interval is fixed.
    public static func reportDelay(randomUnit: Double, initial: Bool = false) -> Duration {
        let nominalMs = initial ? 2_500.0 : 5_000.0
        let unit = randomUnit.isNaN ? 0.5 : min(max(randomUnit, 0), 1)
        return .milliseconds(Int((nominalMs * (0.5 + unit)).rounded()))
    }

    /// `reportDelay(randomUnit:initial:)` with a random unit drawn from `generator`.
    public static func reportDelay(initial: Bool = false, using generator: inout some RandomNumberGenerator) -> Duration {
        reportDelay(randomUnit: Double.random(in: 0..<1, using: &generator), initial: initial)
    }

    // MARK: Derived measures

    /// Interarrival jitter of the peer's stream, in ms.
    public var jitterMs: Double { milliseconds(rtpUnits: reception.jitter) }

    /// Cumulative loss of the peer's stream in percent of packets expected (0 before any).
    public var packetLossPercent: Double {
        let expected = reception.expected
        return expected == 0 ? 0 : Double(reception.lost) * 100 / Double(expected)
    }

    /// The E-model estimate of what we hear: the incoming stream's cumulative loss and jitter
    /// and the latest round trip (0 while unknown). See `QualityEstimate`.
    public func estimatedListeningQuality(codec: CodecImpairment, burstRatio: Double = 1) -> QualityEstimate {
        QualityEstimate(packetLossPercent: packetLossPercent, jitterMs: jitterMs, roundTripMs: roundTripMs ?? 0,
                        codec: codec, burstRatio: burstRatio)
    }

    /// `now` in RTP timestamp units, modulo 2^32 (the arrival clock of A.8).
    private func rtpUnits(_ now: NTPTimestamp) -> UInt32 {
        // (NTP units × rate) / 2^32: bits 32...63 of the 128-bit product.
        UInt32(truncatingIfNeeded: now.rawValue.multipliedFullWidth(by: UInt64(clockRate)).low >> 32)
    }

    private func milliseconds(rtpUnits: UInt32) -> Double {
        Double(rtpUnits) * 1000 / Double(clockRate)
    }
}
