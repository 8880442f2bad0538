import XCTest
@testable import RTP

final class RTPPacketTests: XCTestCase {
    private func parse(_ bytes: [UInt8]) throws(RTPPacketError) -> (header: RTPHeader, payloadRange: Range<Int>) {
        try RTPPacketView.parse(bytes)
    }

    private func assertThrows(_ bytes: [UInt8], _ expected: RTPPacketError, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try parse(bytes)
            XCTFail("parsed an invalid packet", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
        }
        // The raw-pointer entry point must agree.
        bytes.withUnsafeBytes { raw in
            do throws(RTPPacketError) {
                _ = try RTPPacketView.parse(raw)
                XCTFail("parsed an invalid packet", file: file, line: line)
            } catch {
                XCTAssertEqual(error, expected, file: file, line: line)
            }
        }
    }

    func testParseSimplePacket() throws {
        // V=2, PT=0 marker, seq 0x1234, ts 0xDEADBEEF, ssrc 0x01020304, 160-byte payload.
        let packet: [UInt8] = [0x80, 0x80, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04]
            + [UInt8](repeating: 0xFF, count: 160)
        let (header, range) = try parse(packet)
        XCTAssertEqual(header, RTPHeader(marker: true, payloadType: 0, sequenceNumber: 0x1234,
                                         timestamp: 0xDEAD_BEEF, ssrc: 0x0102_0304))
        XCTAssertEqual(range, 12..<172)
    }

    func testHeaderOnlyPacketHasEmptyPayload() throws {
        let (header, range) = try parse([0x80, 101, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])
        XCTAssertEqual(header.payloadType, 101)
        XCTAssertFalse(header.marker)
        XCTAssertTrue(range.isEmpty)
        XCTAssertEqual(range.lowerBound, 12)
    }

    func testCSRCs() throws {
        let packet: [UInt8] = [0x82, 8, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                               0xAA, 0xAA, 0xAA, 0xAA, 0xBB, 0xBB, 0xBB, 0xBB, 1, 2, 3]
        let (header, range) = try parse(packet)
        XCTAssertEqual(header.csrcCount, 2)
        XCTAssertEqual(range, 20..<23)
        packet.withUnsafeBytes { raw in
            XCTAssertEqual(RTPPacketView.csrcs(raw, header: header), [0xAAAA_AAAA, 0xBBBB_BBBB])
        }
    }

    func testExtension() throws {
        // X bit, one CSRC, extension profile 0xBEDE with 2 words, payload 4 bytes.
        let packet: [UInt8] = [0x91, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                               9, 9, 9, 9,
                               0xBE, 0xDE, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8,
                               0x10, 0x20, 0x30, 0x40]
        let (header, range) = try parse(packet)
        XCTAssertTrue(header.hasExtension)
        XCTAssertEqual(range, 28..<32)
        // Empty extension (length 0).
        let empty: [UInt8] = [0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xBE, 0xDE, 0, 0, 7]
        XCTAssertEqual(try parse(empty).payloadRange, 16..<17)
    }

    func testPadding() throws {
        // 3 payload bytes, 5 padding bytes (last one = 5).
        let packet: [UInt8] = [0xA0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 5]
        let (header, range) = try parse(packet)
        XCTAssertTrue(header.padding)
        XCTAssertEqual(range, 12..<15)
        // Padding taking all the space after the header: empty payload.
        let all: [UInt8] = [0xA0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 3]
        XCTAssertEqual(try parse(all).payloadRange, 12..<12)
        // Padding with extension and CSRC.
        let mixed: [UInt8] = [0xB1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 9, 9, 9, 9, 0, 1, 0, 0, 0xAB, 0, 2]
        XCTAssertEqual(try parse(mixed).payloadRange, 20..<21)
    }

    func testMalformedPackets() {
        let valid: [UInt8] = [0x80, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        assertThrows([], .tooShort)
        assertThrows(Array(valid.prefix(11)), .tooShort)
        var v1 = valid; v1[0] = 0x40
        assertThrows(v1, .badVersion)
        var v0 = valid; v0[0] = 0x00
        assertThrows(v0, .badVersion)
        var v3 = valid; v3[0] = 0xC0
        assertThrows(v3, .badVersion)
        // CSRC count 15 but only 1 CSRC worth of bytes.
        assertThrows([0x8F] + valid.dropFirst() + [1, 2, 3, 4], .badCSRCCount)
        assertThrows([0x81] + valid.dropFirst() + [1, 2, 3], .badCSRCCount)
        // Extension bit without room for the extension header.
        assertThrows([0x90] + valid.dropFirst() + [0xBE, 0xDE, 0], .badExtensionLength)
        // Extension length beyond the packet.
        assertThrows([0x90] + valid.dropFirst() + [0xBE, 0xDE, 0, 2, 1, 2, 3, 4], .badExtensionLength)
        assertThrows([0x90] + valid.dropFirst() + [0xBE, 0xDE, 0xFF, 0xFF], .badExtensionLength)
        // Padding count larger than the payload.
        assertThrows([0xA0] + valid.dropFirst() + [1, 2, 9], .badPadding)
        // Padding count 0.
        assertThrows([0xA0] + valid.dropFirst() + [1, 2, 0], .badPadding)
        // Padding bit in a header-only packet: the count would be read from the header.
        assertThrows([0xA0] + valid.dropFirst(), .badPadding)
        // Padding that would eat into the extension.
        assertThrows([0xB0] + valid.dropFirst() + [0, 1, 0, 0, 6], .badPadding)
    }

    func testWriteParseRoundTrip() throws {
        let headers = [
            RTPHeader(payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0),
            RTPHeader(marker: true, payloadType: 127, sequenceNumber: 0xFFFF, timestamp: 0xFFFF_FFFF, ssrc: 0xFFFF_FFFF),
            RTPHeader(marker: false, payloadType: 101, sequenceNumber: 0x8001, timestamp: 0x8000_0001, ssrc: 0x1234_5678),
        ]
        for header in headers {
            var buffer = [UInt8](repeating: 0xEE, count: 12 + 160)
            let written = buffer.withUnsafeMutableBytes { header.write(into: $0) }
            XCTAssertEqual(written, RTPHeader.size)
            XCTAssertEqual(Array(buffer.prefix(12)), header.bytes)
            let (parsed, range) = try parse(buffer)
            XCTAssertEqual(parsed, header)
            XCTAssertEqual(range, 12..<172)
        }
        XCTAssertEqual(RTPHeader(marker: true, payloadType: 8, sequenceNumber: 0x0102, timestamp: 0x03040506,
                                 ssrc: 0x0708090A).bytes,
                       [0x80, 0x88, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A])
    }

    func testRandomGarbageNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty { bytes[0] = 0x80 | (bytes[0] & 0x3F) }
            if let (_, range) = try? parse(bytes) {
                XCTAssertGreaterThanOrEqual(range.lowerBound, 12)
                XCTAssertLessThanOrEqual(range.upperBound, bytes.count)
            }
        }
    }
}
