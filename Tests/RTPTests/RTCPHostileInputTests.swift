import XCTest

@testable import RTP

/// Malformed RTCP from the network: every case is a typed error, never a crash.
final class RTCPHostileInputTests: XCTestCase {
    /// A valid RR without report blocks, to put in front of a bad packet.
    private let validRR: [UInt8] = [0x80, 0xC9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01]

    private func assertRejects(_ bytes: [UInt8], _ expected: RTCPParseError,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            let packets = try RTCPPacket.parseCompound(bytes)
            XCTFail("parsed an invalid packet: \(packets)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
        }
        // The raw-pointer entry point must agree.
        bytes.withUnsafeBytes { raw in
            do throws(RTCPParseError) {
                _ = try RTCPPacket.parseCompound(raw)
                XCTFail("parsed an invalid packet", file: file, line: line)
            } catch {
                XCTAssertEqual(error, expected, file: file, line: line)
            }
        }
    }

    func testEmptyDatagram() {
        assertRejects([], .empty)
    }

    func testTruncatedHeader() {
        assertRejects([0x80, 0xC9, 0x00], .truncatedHeader(offset: 0))
        assertRejects(validRR + [0x80, 0xC9], .truncatedHeader(offset: 8))   // trailing bytes
    }

    func testWrongVersion() {
        assertRejects([0x40, 0xC9, 0x00, 0x01, 0, 0, 0, 1], .badVersion(offset: 0))   // version 1
        assertRejects([0xC0, 0xC9, 0x00, 0x01, 0, 0, 0, 1], .badVersion(offset: 0))   // version 3
        assertRejects(validRR + [0x00, 0xC9, 0x00, 0x01, 0, 0, 0, 1], .badVersion(offset: 8))
    }

    func testLengthBeyondBuffer() {
        assertRejects([0x80, 0xC9, 0x00, 0x07, 0, 0, 0, 1], .lengthBeyondBuffer(offset: 0))   // says 32 bytes
        assertRejects([0x80, 0xC9, 0xFF, 0xFF, 0, 0, 0, 1], .lengthBeyondBuffer(offset: 0))   // the largest length
        assertRejects(validRR + [0x80, 0xCB, 0x00, 0x02, 0, 0, 0, 1], .lengthBeyondBuffer(offset: 8))
    }

    func testZeroLengthPacketsOfTypesWithAFixedPart() {
        // length 0: the packet is its 4-byte header alone.
        assertRejects([0x80, 0xC8, 0x00, 0x00], .truncatedPacket(offset: 0, packetType: 200))
        assertRejects([0x80, 0xC9, 0x00, 0x00], .truncatedPacket(offset: 0, packetType: 201))
        assertRejects(validRR + [0x80, 0xC8, 0x00, 0x05] + [UInt8](repeating: 0, count: 20),
                      .truncatedPacket(offset: 8, packetType: 200))   // SR sender info one word short
    }

    func testReportCountOverflowingLength() {
        // RR claiming 2 blocks in an 8-byte packet.
        assertRejects([0x82, 0xC9, 0x00, 0x01, 0, 0, 0, 1], .reportCountOverflow(offset: 0))
        // SR claiming 31 blocks with room for one.
        assertRejects([0x9F, 0xC8, 0x00, 0x0C] + [UInt8](repeating: 0, count: 48), .reportCountOverflow(offset: 0))
        // RR with one block, one word short.
        assertRejects([0x81, 0xC9, 0x00, 0x06] + [UInt8](repeating: 0, count: 24), .reportCountOverflow(offset: 0))
    }

    func testBadPadding() {
        // P set on a packet that is not the last.
        assertRejects([0xA0, 0xC9, 0x00, 0x01, 0, 0, 0, 1] + validRR, .badPadding(offset: 0))
        // Padding count 0.
        assertRejects([0xA0, 0xC9, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0], .badPadding(offset: 0))
        // Padding count larger than the body (it would eat the header).
        assertRejects([0xA0, 0xC9, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 9], .badPadding(offset: 0))
        // Padding that eats into the RR's SSRC: the body is then too short for an RR.
        assertRejects([0xA0, 0xC9, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 8], .truncatedPacket(offset: 0, packetType: 201))
    }

    func testSourceDescriptionItemLengthOverflow() {
        assertRejects([
            0x81, 0xCA, 0x00, 0x03,   // SDES, one chunk, 16 bytes
            0, 0, 0, 1,               // SSRC
            0x01, 0xC8, 0x61, 0x62,   // CNAME claiming 200 bytes
            0x63, 0x64, 0x00, 0x00,
        ], .badSourceDescription(offset: 0))
    }

    func testSourceDescriptionStructuralErrors() {
        // Item list without its terminating null octet (CNAME "ab" fills the packet).
        assertRejects([0x81, 0xCA, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x02, 0x61, 0x62], .badSourceDescription(offset: 0))
        // Item header cut off at the end of the packet (a type octet without its length).
        assertRejects([0x81, 0xCA, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x01, 0x61, 0x01], .badSourceDescription(offset: 0))
        // Two chunks announced, one present.
        assertRejects([0x82, 0xCA, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0], .badSourceDescription(offset: 0))
        // Chunk SSRC cut off.
        assertRejects(validRR + [0x81, 0xCA, 0x00, 0x00], .badSourceDescription(offset: 8))
    }

    func testGoodbyeOverflows() {
        // Three sources announced, one present.
        assertRejects([0x83, 0xCB, 0x00, 0x01, 0, 0, 0, 1], .badGoodbye(offset: 0))
        // Reason length 20 with 3 bytes after it.
        assertRejects([0x81, 0xCB, 0x00, 0x02, 0, 0, 0, 1, 0x14, 0x61, 0x62, 0x63], .badGoodbye(offset: 0))
    }

    func testInvalidUTF8TextIsReplacedNotRejected() throws {
        let bytes: [UInt8] = [0x81, 0xCB, 0x00, 0x02, 0, 0, 0, 1, 0x02, 0xFF, 0xFE, 0x00]
        XCTAssertEqual(try RTCPPacket.parseCompound(bytes), [.goodbye(RTCPGoodbye(ssrcs: [1], reason: "\u{FFFD}\u{FFFD}"))])
    }

    /// Every truncation and thousands of random byte corruptions of a valid compound packet
    /// either parse or throw; reaching the end of the test means nothing crashed.
    func testTruncatedAndCorruptedPacketsNeverCrash() {
        var session = RTCPSession(ssrc: 1, cname: "a@example.org", clockRate: 8000)
        let t = NTPTimestamp(unixSeconds: 1_700_000_000)
        session.recordSent(rtpTimestamp: 0, payloadOctets: 160, at: t)
        session.recordReceived(ssrc: 2, sequence: 1, timestamp: 0, at: t)
        var valid = session.makeReport(at: t)
        valid += RTCPPacket.compound([.goodbye(RTCPGoodbye(ssrcs: [1, 2, 3], reason: "going"))])
        XCTAssertNoThrow(try RTCPPacket.parseCompound(valid))

        var rejected = 0
        for length in 0..<valid.count {
            if (try? RTCPPacket.parseCompound(Array(valid.prefix(length)))) == nil { rejected += 1 }
        }
        // Only the cuts right after the SR and after the SDES parse.
        XCTAssertEqual(rejected, valid.count - 2)

        var rng = SplitMix64(seed: 0x5EED)
        var parsed = 0
        for _ in 0..<20_000 {
            var bytes = valid
            for _ in 0...Int.random(in: 0...3, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
            if let packets = try? RTCPPacket.parseCompound(bytes) {
                parsed += 1
                session.receive(packets, at: t)   // whatever parses must be safe to act on
            }
        }
        XCTAssertGreaterThan(parsed, 0)   // some corruptions only touch values
        XCTAssertLessThan(parsed, 20_000)
    }
}

/// A small deterministic generator (SplitMix64) so that random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
