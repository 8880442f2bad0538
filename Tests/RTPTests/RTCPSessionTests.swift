import XCTest

@testable import RTP

/// RTCP session state (RFC 3550 §6.4, A.3): report contents, round-trip time, the peer's view
/// of our stream and the report timer.
final class RTCPSessionTests: XCTestCase {
    private let start = NTPTimestamp(unixSeconds: 1_700_000_000)

    private func at(ms: Int64) -> NTPTimestamp {
        start.advanced(byNanoseconds: ms * 1_000_000)
    }

    /// Our packets of one report as the peer would parse them from the wire.
    private func wire(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [RTCPPacket] {
        do {
            return try RTCPPacket.parseCompound(bytes)
        } catch {
            XCTFail("our own report does not parse: \(error)", file: file, line: line)
            return []
        }
    }

    private func reportBlock(_ packets: [RTCPPacket]) -> RTCPReportBlock? {
        switch packets.first {
        case .senderReport(let sr): return sr.reportBlocks.first
        case .receiverReport(let rr): return rr.reportBlocks.first
        default: return nil
        }
    }

    // MARK: Round-trip time

    func testRoundTripFromSenderReportEchoedInReceiverReport() {
        var ours = RTCPSession(ssrc: 0xA, cname: "hotline@192.0.2.10", clockRate: 8000)
        var peer = RTCPSession(ssrc: 0xB, cname: "phone@198.51.100.7", clockRate: 8000)

        // We send RTP; the peer receives it 30 ms later.
        for i in 0..<50 {
            ours.recordSent(rtpTimestamp: UInt32(160 * i), payloadOctets: 160, at: at(ms: Int64(20 * i)))
            peer.recordReceived(ssrc: 0xA, sequence: UInt16(i), timestamp: UInt32(160 * i), at: at(ms: Int64(20 * i + 30)))
        }
        // T = 1,000 ms: our SR; it reaches the peer at T + 30 ms.
        let sr = wire(ours.makeReport(at: at(ms: 1_000)))
        guard case .senderReport(let senderReport) = sr.first else { return XCTFail("expected an SR, got \(sr)") }
        XCTAssertEqual(senderReport.ntpTimestamp, at(ms: 1_000))
        peer.receive(sr, at: at(ms: 1_030))

        // The peer reports 1.0 s later (T + 1,030 ms); its RR reaches us at T + 1,060 ms.
        let rr = wire(peer.makeReport(at: at(ms: 2_030)))
        guard let block = reportBlock(rr) else { return XCTFail("peer report has no block: \(rr)") }
        XCTAssertEqual(block.ssrc, 0xA)
        XCTAssertEqual(block.lastSenderReport, at(ms: 1_000).compact)
        XCTAssertEqual(block.delaySinceLastSenderReport, 65_536)   // 1.0 s in 1/65,536 s

        let result = ours.receive(rr, at: at(ms: 2_060))
        XCTAssertTrue(result.remoteReportUpdated)
        // 60 ms, to the 1/65,536 s resolution of the compact NTP format.
        XCTAssertEqual(result.roundTripMs ?? -1, 60, accuracy: 0.05)
        XCTAssertEqual(ours.roundTripMs ?? -1, 60, accuracy: 0.05)
        XCTAssertEqual(peer.remoteCNAME, "hotline@192.0.2.10")
        XCTAssertEqual(ours.remoteCNAME, "phone@198.51.100.7")
    }

    func testRoundTripIgnoresUnknownLSRAndImpossibleDelays() {
        var ours = RTCPSession(ssrc: 0xA, cname: "a", clockRate: 8000)
        ours.recordSent(rtpTimestamp: 0, payloadOctets: 160, at: at(ms: 0))
        _ = ours.makeReport(at: at(ms: 1_000))
        let lsr = at(ms: 1_000).compact

        func rr(lsr: UInt32, dlsr: UInt32) -> [RTCPPacket] {
            [.receiverReport(RTCPReceiverReport(ssrc: 0xB, reportBlocks: [
                RTCPReportBlock(ssrc: 0xA, fractionLost: 0, cumulativeLost: 0, extendedHighestSequence: 0,
                                jitter: 0, lastSenderReport: lsr, delaySinceLastSenderReport: dlsr),
            ]))]
        }
        // No SR received yet (LSR 0), an LSR we never sent, a DLSR longer than the elapsed time.
        XCTAssertNil(ours.receive(rr(lsr: 0, dlsr: 0), at: at(ms: 1_100)).roundTripMs)
        XCTAssertNil(ours.receive(rr(lsr: lsr &+ 12_345, dlsr: 0), at: at(ms: 1_100)).roundTripMs)
        XCTAssertNil(ours.receive(rr(lsr: lsr, dlsr: 65_536), at: at(ms: 1_100)).roundTripMs)
        XCTAssertNil(ours.roundTripMs)
        // A block about another source does not update our view at all.
        let other: [RTCPPacket] = [.receiverReport(RTCPReceiverReport(ssrc: 0xB, reportBlocks: [
            RTCPReportBlock(ssrc: 0xC, fractionLost: 9, cumulativeLost: 9, extendedHighestSequence: 9,
                            jitter: 9, lastSenderReport: lsr, delaySinceLastSenderReport: 0),
        ]))]
        XCTAssertFalse(ours.receive(other, at: at(ms: 1_100)).remoteReportUpdated)
        // The valid echo: 100 ms minus 20 ms held at the peer.
        let result = ours.receive(rr(lsr: lsr, dlsr: 65_536 / 50), at: at(ms: 1_100))
        XCTAssertEqual(result.roundTripMs ?? -1, 80, accuracy: 0.05)
    }

    // MARK: Our report block

    func testFractionLostPerIntervalAndCumulativeLoss() {
        var session = RTCPSession(ssrc: 1, cname: "a", clockRate: 8000)
        var seq: UInt16 = 65_400   // wraps during the second interval

        func receive(_ count: Int, losing lost: (Int) -> Bool, fromMs: Int64) {
            for i in 0..<count {
                if !lost(i) {
                    session.recordReceived(ssrc: 0x77, sequence: seq, timestamp: UInt32(seq) &* 160,
                                           at: at(ms: fromMs + Int64(20 * i)))
                }
                seq &+= 1
            }
        }

        // Interval 1: 100 packets, 10 lost (none at the edges).
        receive(100, losing: { $0 % 10 == 5 }, fromMs: 0)
        var block = reportBlock(wire(session.makeReport(at: at(ms: 2_000))))
        XCTAssertEqual(block?.ssrc, 0x77)
        XCTAssertEqual(block?.fractionLost, 25)   // 10/100 × 256 = 25.6, truncated
        XCTAssertEqual(block?.cumulativeLost, 10)
        XCTAssertEqual(block?.extendedHighestSequence, 65_499)
        XCTAssertEqual(session.fractionLost, 25)

        // Interval 2: 100 packets, none lost; the sequence number wraps.
        receive(100, losing: { _ in false }, fromMs: 2_000)
        block = reportBlock(wire(session.makeReport(at: at(ms: 4_000))))
        XCTAssertEqual(block?.fractionLost, 0)
        XCTAssertEqual(block?.cumulativeLost, 10)
        XCTAssertEqual(block?.extendedHighestSequence, 65_536 + UInt32(seq &- 1))

        // Interval 3: 100 packets, half lost (the last one arrives, so all 100 are expected).
        receive(100, losing: { $0 % 2 == 0 }, fromMs: 4_000)
        block = reportBlock(wire(session.makeReport(at: at(ms: 6_000))))
        XCTAssertEqual(block?.fractionLost, 128)
        XCTAssertEqual(block?.cumulativeLost, 60)
        XCTAssertEqual(session.packetLossPercent, 20, accuracy: 0.01)   // 60 of 300

        // Interval 4: nothing heard, so no report block (§6.4).
        let quiet = wire(session.makeReport(at: at(ms: 8_000)))
        XCTAssertEqual(quiet.first, .receiverReport(RTCPReceiverReport(ssrc: 1)))
    }

    func testNewSourceRestartsTheLossInterval() {
        var session = RTCPSession(ssrc: 1, cname: "a", clockRate: 8000)
        for i in 0..<20 {
            session.recordReceived(ssrc: 5, sequence: UInt16(i), timestamp: UInt32(160 * i), at: at(ms: Int64(20 * i)))
        }
        _ = session.makeReport(at: at(ms: 1_000))
        // The peer restarts with a new SSRC: 100 packets of which 10 lost. Carrying the old
        // counts over would make it 80 expected and 70 received in this interval.
        for i in 0..<100 where i % 10 != 5 {
            session.recordReceived(ssrc: 6, sequence: UInt16(1000 + i), timestamp: UInt32(160 * i),
                                   at: at(ms: Int64(1_000 + 20 * i)))
        }
        let block = reportBlock(wire(session.makeReport(at: at(ms: 3_000))))
        XCTAssertEqual(block?.ssrc, 6)
        XCTAssertEqual(block?.fractionLost, 25)   // 10/100 × 256 = 25.6
        XCTAssertEqual(block?.cumulativeLost, 10)
    }

    func testReceptionJitterIsReportedInTimestampUnitsAndMilliseconds() {
        var session = RTCPSession(ssrc: 1, cname: "a", clockRate: 8000)
        // Arrivals alternate on time and 10 ms late: |D| = 80 units each time, J → 80.
        for i in 0..<500 {
            let late: Int64 = i % 2 == 0 ? 0 : 10
            session.recordReceived(ssrc: 5, sequence: UInt16(i), timestamp: UInt32(160 * i), at: at(ms: Int64(20 * i) + late))
        }
        XCTAssertEqual(session.jitterMs, 10, accuracy: 0.5)
        let block = reportBlock(wire(session.makeReport(at: at(ms: 10_000))))
        XCTAssertEqual(Double(block?.jitter ?? 0), 80, accuracy: 4)
    }

    func testEvenArrivalsHaveNoJitter() {
        var session = RTCPSession(ssrc: 1, cname: "a", clockRate: 8000)
        for i in 0..<500 {
            session.recordReceived(ssrc: 5, sequence: UInt16(i), timestamp: UInt32(160 * i), at: at(ms: Int64(20 * i)))
        }
        XCTAssertLessThanOrEqual(session.reception.jitter, 1)   // only rounding of the arrival clock
        XCTAssertEqual(session.packetLossPercent, 0)
    }

    func testLSRAndDLSRReferToThePeersLatestSenderReport() {
        var session = RTCPSession(ssrc: 1, cname: "a", clockRate: 8000)
        session.recordReceived(ssrc: 5, sequence: 1, timestamp: 0, at: at(ms: 0))
        let peerSR = RTCPSenderReport(ssrc: 5, ntpTimestamp: NTPTimestamp(rawValue: 0xE000_1234_5678_9ABC),
                                      rtpTimestamp: 0, packetCount: 1, octetCount: 160)
        session.receive([.senderReport(peerSR)], at: at(ms: 100))
        // An SR from some other source does not replace it.
        session.receive([.senderReport(RTCPSenderReport(ssrc: 9, ntpTimestamp: NTPTimestamp(rawValue: 1),
                                                        rtpTimestamp: 0, packetCount: 0, octetCount: 0))], at: at(ms: 200))
        let block = reportBlock(wire(session.makeReport(at: at(ms: 350))))
        XCTAssertEqual(block?.lastSenderReport, 0x1234_5678)
        XCTAssertEqual(block?.delaySinceLastSenderReport, 16_384)   // 250 ms = 0.25 × 65,536
    }

    // MARK: Our sender report

    func testSenderReportOnlyWhileSending() {
        var session = RTCPSession(ssrc: 1, cname: "a", clockRate: 8000)
        func firstType(_ ms: Int64) -> UInt8? {
            switch wire(session.makeReport(at: at(ms: ms))).first {
            case .senderReport: return 200
            case .receiverReport: return 201
            default: return nil
            }
        }
        XCTAssertEqual(firstType(1_000), 201)   // nothing sent yet
        session.recordSent(rtpTimestamp: 1_000, payloadOctets: 160, at: at(ms: 1_500))
        XCTAssertEqual(firstType(2_000), 200)
        XCTAssertEqual(firstType(7_000), 200)   // sent since the report before the previous one
        XCTAssertEqual(firstType(12_000), 201)  // two intervals without sending
    }

    func testSenderReportCountsAndExtrapolatedTimestamp() {
        var session = RTCPSession(ssrc: 0x51, cname: "hotline@example.org", clockRate: 8000)
        for i in 0..<10 {
            session.recordSent(rtpTimestamp: 1_000 + UInt32(160 * i), payloadOctets: 160, at: at(ms: Int64(20 * i)))
        }
        // The last packet (timestamp 2,440) left at 180 ms; the report at 680 ms is 4,000 units later.
        let packets = wire(session.makeReport(at: at(ms: 680)))
        XCTAssertEqual(packets, [
            .senderReport(RTCPSenderReport(ssrc: 0x51, ntpTimestamp: at(ms: 680), rtpTimestamp: 2_440 + 4_000,
                                           packetCount: 10, octetCount: 1_600)),
            .sourceDescription(RTCPSourceDescription(chunks: [.init(ssrc: 0x51, cname: "hotline@example.org")])),
        ])
    }

    // MARK: The peer's view and goodbye

    func testRemoteReceptionIsKeptInMilliseconds() {
        var session = RTCPSession(ssrc: 0xA, cname: "a", clockRate: 8000)
        let result = session.receive([.receiverReport(RTCPReceiverReport(ssrc: 0xB, reportBlocks: [
            RTCPReportBlock(ssrc: 0xA, fractionLost: 64, cumulativeLost: 17, extendedHighestSequence: 4_242,
                            jitter: 160, lastSenderReport: 0, delaySinceLastSenderReport: 0),
        ]))], at: at(ms: 5_000))
        XCTAssertTrue(result.remoteReportUpdated)
        XCTAssertNil(result.roundTripMs)
        XCTAssertEqual(session.remoteReception, RemoteReception(
            reporterSSRC: 0xB, fractionLost: 0.25, cumulativeLost: 17, extendedHighestSequence: 4_242,
            jitterMs: 20, receivedAt: at(ms: 5_000)))
    }

    func testOwnPacketsLoopedBackAreIgnored() {
        var session = RTCPSession(ssrc: 0xA, cname: "a", clockRate: 8000)
        let looped: [RTCPPacket] = [
            .receiverReport(RTCPReceiverReport(ssrc: 0xA, reportBlocks: [
                RTCPReportBlock(ssrc: 0xA, fractionLost: 1, cumulativeLost: 1, extendedHighestSequence: 1,
                                jitter: 1, lastSenderReport: 0, delaySinceLastSenderReport: 0),
            ])),
            .goodbye(RTCPGoodbye(ssrcs: [0xA])),
        ]
        XCTAssertEqual(session.receive(looped, at: at(ms: 0)), RTCPSession.ReceiveResult())
        XCTAssertNil(session.remoteReception)
    }

    func testGoodbyeIsReportedAndOursIsACompleteCompoundPacket() {
        var ours = RTCPSession(ssrc: 0xA, cname: "hotline@example.org", clockRate: 8000)
        let bye = RTCPGoodbye(ssrcs: [0xB], reason: "hangup")
        XCTAssertEqual(ours.receive([.receiverReport(RTCPReceiverReport(ssrc: 0xB)), .goodbye(bye)], at: at(ms: 0)).goodbye, bye)

        let packets = wire(ours.makeGoodbye(at: at(ms: 10), reason: "call ended"))
        XCTAssertEqual(packets, [
            .receiverReport(RTCPReceiverReport(ssrc: 0xA)),
            .sourceDescription(RTCPSourceDescription(chunks: [.init(ssrc: 0xA, cname: "hotline@example.org")])),
            .goodbye(RTCPGoodbye(ssrcs: [0xA], reason: "call ended")),
        ])
    }

    func testListeningQualityFromReceptionAndRoundTrip() {
        var session = RTCPSession(ssrc: 1, cname: "a", clockRate: 8000)
        for i in 0..<100 {
            session.recordReceived(ssrc: 5, sequence: UInt16(i), timestamp: UInt32(160 * i), at: at(ms: Int64(20 * i)))
        }
        XCTAssertEqual(session.estimatedListeningQuality(codec: .g711).mos, 4.41, accuracy: 0.02)
        var lossy = RTCPSession(ssrc: 1, cname: "a", clockRate: 8000)
        for i in 0..<100 where i % 20 != 10 {   // 5 % loss
            lossy.recordReceived(ssrc: 5, sequence: UInt16(i), timestamp: UInt32(160 * i), at: at(ms: Int64(20 * i)))
        }
        XCTAssertLessThan(lossy.estimatedListeningQuality(codec: .g711).mos, 3.0)
    }

    // MARK: Report timer

    func testReportDelayIsRandomisedAroundFiveSeconds() {
        XCTAssertEqual(RTCPSession.reportDelay(randomUnit: 0), .milliseconds(2_500))
        XCTAssertEqual(RTCPSession.reportDelay(randomUnit: 0.5), .seconds(5))
        XCTAssertEqual(RTCPSession.reportDelay(randomUnit: 1), .milliseconds(7_500))
        XCTAssertEqual(RTCPSession.reportDelay(randomUnit: 0.5, initial: true), .milliseconds(2_500))
        XCTAssertEqual(RTCPSession.reportDelay(randomUnit: 0, initial: true), .milliseconds(1_250))
        XCTAssertEqual(RTCPSession.reportDelay(randomUnit: -3), .milliseconds(2_500))
        XCTAssertEqual(RTCPSession.reportDelay(randomUnit: .nan), .seconds(5))

        var rng = SplitMix64(seed: 42)
        var delays = Set<Duration>()
        for _ in 0..<1_000 {
            let delay = RTCPSession.reportDelay(using: &rng)
            XCTAssertGreaterThanOrEqual(delay, .milliseconds(2_500))
            XCTAssertLessThanOrEqual(delay, .milliseconds(7_500))
            delays.insert(delay)
        }
        XCTAssertGreaterThan(delays.count, 500)   // really spread, not a constant
    }
}
