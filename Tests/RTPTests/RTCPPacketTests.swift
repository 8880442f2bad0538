import XCTest

@testable import RTP

/// RTCP wire format (RFC 3550 §6.4-6.6): hand-written packets parse to the right values, and
/// what we build parses back to what we built.
final class RTCPPacketTests: XCTestCase {
    // MARK: Parsing hand-written packets

    func testSenderReportWithSourceDescription() throws {
        let datagram: [UInt8] = [
            // SR: V=2 P=0 RC=1, PT=200, length 12 (52 bytes)
            0x81, 0xC8, 0x00, 0x0C,
            0x90, 0x2F, 0x9E, 0x2E,   // SSRC of sender
            0xE8, 0xA3, 0x1B, 0x2C,   // NTP timestamp, seconds
            0x80, 0x00, 0x00, 0x00,   // NTP timestamp, fraction (0.5 s)
            0x00, 0x01, 0xF4, 0x00,   // RTP timestamp 128,000
            0x00, 0x00, 0x01, 0xF4,   // sender's packet count 500
            0x00, 0x01, 0x38, 0x80,   // sender's octet count 80,000
            // report block 1
            0x12, 0x34, 0x56, 0x78,   // SSRC_1 (the source reported on)
            0x19, 0x00, 0x00, 0x07,   // fraction lost 25/256, cumulative lost 7
            0x00, 0x01, 0x00, 0x05,   // extended highest sequence: 1 cycle, seq 5
            0x00, 0x00, 0x00, 0x23,   // interarrival jitter 35
            0x1B, 0x2C, 0x80, 0x00,   // LSR
            0x00, 0x00, 0x80, 0x00,   // DLSR 0.5 s (32,768 / 65,536)
            // SDES: V=2 P=0 SC=1, PT=202, length 8 (36 bytes)
            0x81, 0xCA, 0x00, 0x08,
            0x90, 0x2F, 0x9E, 0x2E,   // SSRC of chunk 1
            0x02, 0x03, 0x42, 0x6F, 0x62,   // NAME, 3 bytes, "Bob" (skipped)
            0x01, 0x11,               // CNAME, 17 bytes:
            0x75, 0x73, 0x65, 0x72, 0x40, 0x68, 0x6F, 0x73, 0x74,   // "user@host"
            0x2E, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65,         // ".example"
            0x00, 0x00, 0x00, 0x00,   // end of item list, padding to the 32-bit boundary
        ]
        XCTAssertEqual(datagram.count, 52 + 36)

        let packets = try RTCPPacket.parseCompound(datagram)
        XCTAssertEqual(packets.count, 2)
        guard case .senderReport(let sr) = packets.first else { return XCTFail("first packet is not an SR: \(packets)") }
        XCTAssertEqual(sr.ssrc, 0x902F_9E2E)
        XCTAssertEqual(sr.ntpTimestamp.rawValue, 0xE8A3_1B2C_8000_0000)
        XCTAssertEqual(sr.ntpTimestamp.compact, 0x1B2C_8000)
        XCTAssertEqual(sr.rtpTimestamp, 128_000)
        XCTAssertEqual(sr.packetCount, 500)
        XCTAssertEqual(sr.octetCount, 80_000)
        XCTAssertEqual(sr.reportBlocks, [
            RTCPReportBlock(ssrc: 0x1234_5678, fractionLost: 25, cumulativeLost: 7, extendedHighestSequence: 65_541,
                            jitter: 35, lastSenderReport: 0x1B2C_8000, delaySinceLastSenderReport: 32_768),
        ])
        XCTAssertEqual(packets[1], .sourceDescription(RTCPSourceDescription(chunks: [
            .init(ssrc: 0x902F_9E2E, cname: "user@host.example"),
        ])))
    }

    func testReceiverReportWithTwoBlocks() throws {
        let datagram: [UInt8] = [
            // RR: V=2 P=0 RC=2, PT=201, length 13 (56 bytes)
            0x82, 0xC9, 0x00, 0x0D,
            0x00, 0x00, 0x0B, 0xEE,   // SSRC of packet sender
            // block 1
            0xAA, 0xAA, 0x00, 0x01,   // SSRC_1
            0x00, 0x00, 0x00, 0x00,   // no loss
            0x00, 0x00, 0x27, 0x10,   // extended highest sequence 10,000
            0x00, 0x00, 0x00, 0x50,   // jitter 80
            0x00, 0x00, 0x00, 0x00,   // LSR: no SR received yet
            0x00, 0x00, 0x00, 0x00,   // DLSR
            // block 2
            0xBB, 0xBB, 0x00, 0x02,   // SSRC_2
            0x80, 0xFF, 0xFF, 0xFF,   // fraction lost 128/256, cumulative lost -1 (a duplicate)
            0x00, 0x02, 0xFF, 0xFF,   // 2 cycles, seq 65,535
            0x00, 0x00, 0x01, 0x00,   // jitter 256
            0x12, 0x34, 0x56, 0x78,   // LSR
            0x00, 0x01, 0x00, 0x00,   // DLSR 1 s
        ]
        let packets = try RTCPPacket.parseCompound(datagram)
        XCTAssertEqual(packets, [.receiverReport(RTCPReceiverReport(ssrc: 0xBEE, reportBlocks: [
            RTCPReportBlock(ssrc: 0xAAAA_0001, fractionLost: 0, cumulativeLost: 0, extendedHighestSequence: 10_000,
                            jitter: 80, lastSenderReport: 0, delaySinceLastSenderReport: 0),
            RTCPReportBlock(ssrc: 0xBBBB_0002, fractionLost: 128, cumulativeLost: -1, extendedHighestSequence: 0x2_FFFF,
                            jitter: 256, lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 65_536),
        ]))])
    }

    func testGoodbyeWithReason() throws {
        let datagram: [UInt8] = [
            // BYE: V=2 P=0 SC=1, PT=203, length 4 (20 bytes)
            0x81, 0xCB, 0x00, 0x04,
            0x90, 0x2F, 0x9E, 0x2E,   // SSRC
            0x0A,                     // reason length 10
            0x63, 0x61, 0x6C, 0x6C, 0x20, 0x65, 0x6E, 0x64, 0x65, 0x64,   // "call ended"
            0x00,                     // padding to the 32-bit boundary
        ]
        XCTAssertEqual(try RTCPPacket.parseCompound(datagram),
                       [.goodbye(RTCPGoodbye(ssrcs: [0x902F_9E2E], reason: "call ended"))])
    }

    func testGoodbyeWithoutReasonAndUnknownPacketTypesAreKept() throws {
        let datagram: [UInt8] = [
            // RR with no blocks (8 bytes)
            0x80, 0xC9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
            // APP (PT=204), subtype 3, length 2: SSRC, name "TEST"
            0x83, 0xCC, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x54, 0x45, 0x53, 0x54,
            // BYE, two sources, no reason
            0x82, 0xCB, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
        ]
        XCTAssertEqual(try RTCPPacket.parseCompound(datagram), [
            .receiverReport(RTCPReceiverReport(ssrc: 1)),
            .other(RTCPOtherPacket(packetType: 204, count: 3, body: [0, 0, 0, 1, 0x54, 0x45, 0x53, 0x54])),
            .goodbye(RTCPGoodbye(ssrcs: [1, 2])),
        ])
    }

    func testPaddingOnTheLastPacketIsRemoved() throws {
        let datagram: [UInt8] = [
            0x80, 0xC9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,   // RR, no blocks
            // BYE with P=1, SC=1, length 2: SSRC, then 4 octets of padding (count 4)
            0xA1, 0xCB, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04,
        ]
        XCTAssertEqual(try RTCPPacket.parseCompound(datagram),
                       [.receiverReport(RTCPReceiverReport(ssrc: 1)), .goodbye(RTCPGoodbye(ssrcs: [1]))])
    }

    func testSenderReportProfileExtensionIsIgnored() throws {
        var datagram: [UInt8] = [0x80, 0xC8, 0x00, 0x07] + [UInt8](repeating: 0, count: 24)   // SR, RC=0
        datagram += [0xDE, 0xAD, 0xBE, 0xEF]   // one word of profile-specific extension
        guard case .senderReport(let sr) = try RTCPPacket.parseCompound(datagram).first else {
            return XCTFail("not an SR")
        }
        XCTAssertTrue(sr.reportBlocks.isEmpty)
    }

    // MARK: Demultiplexing (RFC 5761 §4)

    func testRTCPIsToldFromRTPBySecondByte() {
        XCTAssertTrue(RTCPPacket.isRTCP(firstByte: 0x80, secondByte: 200))   // SR
        XCTAssertTrue(RTCPPacket.isRTCP(firstByte: 0x81, secondByte: 201))   // RR
        XCTAssertTrue(RTCPPacket.isRTCP(firstByte: 0x80, secondByte: 192))
        XCTAssertTrue(RTCPPacket.isRTCP(firstByte: 0x80, secondByte: 223))
        XCTAssertFalse(RTCPPacket.isRTCP(firstByte: 0x80, secondByte: 191))
        XCTAssertFalse(RTCPPacket.isRTCP(firstByte: 0x80, secondByte: 224))  // RTP, marker, PT 96
        XCTAssertFalse(RTCPPacket.isRTCP(firstByte: 0x80, secondByte: 0))    // RTP, PCMU
        XCTAssertFalse(RTCPPacket.isRTCP(firstByte: 0x80, secondByte: 0x80 | 8))   // RTP, marker, PCMA
        XCTAssertFalse(RTCPPacket.isRTCP(firstByte: 0x00, secondByte: 200))  // not version 2 (STUN starts 0x00)
        [UInt8]([0x80]).withUnsafeBytes { XCTAssertFalse(RTCPPacket.isRTCP($0)) }
        [UInt8]([0x80, 0xC9, 0, 1]).withUnsafeBytes { XCTAssertTrue(RTCPPacket.isRTCP($0)) }
    }

    // MARK: Building

    func testBuiltCompoundPacketParsesBack() throws {
        let blocks = [
            RTCPReportBlock(ssrc: 7, fractionLost: 12, cumulativeLost: -3, extendedHighestSequence: 70_000,
                            jitter: 42, lastSenderReport: 0xCAFE_BABE, delaySinceLastSenderReport: 99),
            RTCPReportBlock(ssrc: 8, fractionLost: 255, cumulativeLost: 0x7F_FFFF, extendedHighestSequence: 1,
                            jitter: 0, lastSenderReport: 0, delaySinceLastSenderReport: 0),
        ]
        let packets: [RTCPPacket] = [
            .senderReport(RTCPSenderReport(ssrc: 0x0102_0304, ntpTimestamp: NTPTimestamp(rawValue: 0xE8A3_1B2C_1234_5678),
                                           rtpTimestamp: 0xFFFF_FFF0, packetCount: 3, octetCount: 480, reportBlocks: blocks)),
            .sourceDescription(RTCPSourceDescription(chunks: [.init(ssrc: 0x0102_0304, cname: "hotline@192.0.2.10")])),
            .goodbye(RTCPGoodbye(ssrcs: [0x0102_0304], reason: "bye")),
        ]
        let bytes = RTCPPacket.compound(packets)
        XCTAssertEqual(bytes.count % 4, 0)
        XCTAssertEqual(bytes.count, (28 + 2 * 24) + (4 + 4 + 20 + 4) + (4 + 4 + 4))
        XCTAssertEqual(Array(bytes.prefix(4)), [0x82, 0xC8, 0x00, 0x12])   // V=2 RC=2, SR, 19 words
        XCTAssertEqual(try RTCPPacket.parseCompound(bytes), packets)
    }

    func testCumulativeLostIsClampedTo24Bits() throws {
        let block = RTCPReportBlock(ssrc: 1, fractionLost: 0, cumulativeLost: 10_000_000, extendedHighestSequence: 0,
                                    jitter: 0, lastSenderReport: 0, delaySinceLastSenderReport: 0)
        var negative = block
        negative.cumulativeLost = -10_000_000
        let bytes = RTCPPacket.compound([.receiverReport(RTCPReceiverReport(ssrc: 2, reportBlocks: [block, negative]))])
        XCTAssertEqual(Array(bytes[12..<16]), [0x00, 0x7F, 0xFF, 0xFF])
        XCTAssertEqual(Array(bytes[36..<40]), [0x00, 0x80, 0x00, 0x00])
        guard case .receiverReport(let rr) = try RTCPPacket.parseCompound(bytes).first else { return XCTFail("not an RR") }
        XCTAssertEqual(rr.reportBlocks.map(\.cumulativeLost), [0x7F_FFFF, -0x80_0000])
    }

    func testMoreThan31BlocksGoIntoExtraReceiverReports() throws {
        let blocks = (0..<40).map {
            RTCPReportBlock(ssrc: UInt32($0), fractionLost: 0, cumulativeLost: 0, extendedHighestSequence: 0,
                            jitter: 0, lastSenderReport: 0, delaySinceLastSenderReport: 0)
        }
        let bytes = RTCPPacket.compound([.receiverReport(RTCPReceiverReport(ssrc: 9, reportBlocks: blocks))])
        XCTAssertEqual(try RTCPPacket.parseCompound(bytes), [
            .receiverReport(RTCPReceiverReport(ssrc: 9, reportBlocks: Array(blocks[0..<31]))),
            .receiverReport(RTCPReceiverReport(ssrc: 9, reportBlocks: Array(blocks[31...]))),
        ])
    }

    func testLongTextIsCutAtACharacterBoundary() throws {
        // 127 two-byte characters = 254 bytes, then one more: 256 bytes; 255 would split it.
        let cname = String(repeating: "é", count: 128)
        let bytes = RTCPPacket.compound([
            .sourceDescription(RTCPSourceDescription(chunks: [.init(ssrc: 1, cname: cname)])),
            .goodbye(RTCPGoodbye(ssrcs: [1], reason: cname)),
        ])
        let packets = try RTCPPacket.parseCompound(bytes)
        let shorter = String(repeating: "é", count: 127)
        XCTAssertEqual(packets, [
            .sourceDescription(RTCPSourceDescription(chunks: [.init(ssrc: 1, cname: shorter)])),
            .goodbye(RTCPGoodbye(ssrcs: [1], reason: shorter)),
        ])
    }

    func testManySourcesSplitIntoSeveralPackets() throws {
        let chunks = (0..<33).map { RTCPSourceDescription.Chunk(ssrc: UInt32($0), cname: "c\($0)") }
        let ssrcs = (100..<140).map { UInt32($0) }
        let bytes = RTCPPacket.compound([
            .sourceDescription(RTCPSourceDescription(chunks: chunks)),
            .goodbye(RTCPGoodbye(ssrcs: ssrcs, reason: "done")),
        ])
        XCTAssertEqual(try RTCPPacket.parseCompound(bytes), [
            .sourceDescription(RTCPSourceDescription(chunks: Array(chunks[0..<31]))),
            .sourceDescription(RTCPSourceDescription(chunks: Array(chunks[31...]))),
            .goodbye(RTCPGoodbye(ssrcs: Array(ssrcs[0..<31]))),
            .goodbye(RTCPGoodbye(ssrcs: Array(ssrcs[31...]), reason: "done")),
        ])
    }

    func testAppendingToANonEmptyBufferKeepsChunksAligned() throws {
        // The caller may append after a 1-byte prefix (e.g. a framing byte): SDES padding is
        // relative to the packet, not to the array.
        var out: [UInt8] = [0xFF]
        RTCPPacket.sourceDescription(RTCPSourceDescription(chunks: [.init(ssrc: 5, cname: "ab")])).append(to: &out)
        XCTAssertEqual(out.count, 1 + 16)
        XCTAssertEqual(try RTCPPacket.parseCompound(Array(out.dropFirst())),
                       [.sourceDescription(RTCPSourceDescription(chunks: [.init(ssrc: 5, cname: "ab")]))])
    }

    func testUnknownPacketRoundTrips() throws {
        let feedback = RTCPPacket.other(RTCPOtherPacket(packetType: 205, count: 1, body: [0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 0]))
        let bytes = RTCPPacket.compound([.receiverReport(RTCPReceiverReport(ssrc: 1)), feedback])
        XCTAssertEqual(try RTCPPacket.parseCompound(bytes), [.receiverReport(RTCPReceiverReport(ssrc: 1)), feedback])
    }
}
