import XCTest
@testable import RTP

final class TelephoneEventTests: XCTestCase {
    func testParse() {
        XCTAssertEqual(TelephoneEvent.parse([0x05, 0x8A, 0x03, 0x20]),
                       TelephoneEvent(event: 5, end: true, volume: 10, duration: 800))
        // Reserved bit ignored.
        XCTAssertEqual(TelephoneEvent.parse([11, 0x7F, 0x00, 0xA0]),
                       TelephoneEvent(event: 11, end: false, volume: 63, duration: 160))
        XCTAssertNil(TelephoneEvent.parse([1, 2, 3]))
        XCTAssertNil(TelephoneEvent.parse([]))
        let event = TelephoneEvent(event: 12, end: true, volume: 7, duration: 1234)
        XCTAssertEqual(TelephoneEvent.parse(event.bytes), event)
    }

    func testDigits() {
        let expected: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"]
        for (code, digit) in expected.enumerated() {
            XCTAssertEqual(TelephoneEvent(event: UInt8(code)).digit, digit)
            XCTAssertEqual(TelephoneEvent.event(forDigit: digit), UInt8(code))
        }
        XCTAssertNil(TelephoneEvent(event: 16).digit)  // flash
        XCTAssertNil(TelephoneEvent(event: 255).digit)
        XCTAssertEqual(TelephoneEvent.event(forDigit: "d"), 15)
        XCTAssertNil(TelephoneEvent.event(forDigit: "E"))
        XCTAssertNil(TelephoneEvent.event(forDigit: "5\u{308}"))
    }

    /// Packets as a sender following RFC 4733 sends them for one key press: a start packet,
    /// updates every 20 ms with growing duration, and three identical end packets.
    private func keyPress(_ event: UInt8, timestamp: UInt32, updates: Int = 5) -> [(TelephoneEvent, UInt32)] {
        var packets: [(TelephoneEvent, UInt32)] = []
        for i in 0...updates {
            packets.append((TelephoneEvent(event: event, duration: UInt16(160 * (i + 1))), timestamp))
        }
        let end = TelephoneEvent(event: event, end: true, duration: UInt16(160 * (updates + 2)))
        packets += [(end, timestamp), (end, timestamp), (end, timestamp)]
        return packets
    }

    private func keys(_ packets: [(TelephoneEvent, UInt32)], receiver: inout TelephoneEventReceiver) -> String {
        String(packets.compactMap { receiver.receive($0.0, timestamp: $0.1) })
    }

    func testSIPpDTMFSequenceGivesOneKey() throws {
        // SIPp's dtmf_2833 pcap (digit 1): several packets with one timestamp, then the end bit ×3.
        var receiver = TelephoneEventReceiver()
        var reported: [Character] = []
        for (index, packet) in keyPress(1, timestamp: 3200).enumerated() {
            if let key = receiver.receive(packet.0, timestamp: packet.1) {
                XCTAssertEqual(index, 0, "reported at the first packet")
                reported.append(key)
            }
        }
        XCTAssertEqual(reported, ["1"])
    }

    func testSequenceOfDigitsIncludingRepeats() {
        var receiver = TelephoneEventReceiver()
        let packets = keyPress(1, timestamp: 1000) + keyPress(1, timestamp: 3000) + keyPress(10, timestamp: 5000)
            + keyPress(11, timestamp: 7000) + keyPress(11, timestamp: 9000)
        XCTAssertEqual(keys(packets, receiver: &receiver), "11*##")
    }

    func testLostEndPackets() {
        var receiver = TelephoneEventReceiver()
        let first = keyPress(4, timestamp: 1000).filter { !$0.0.end }
        let second = keyPress(4, timestamp: 2600).filter { !$0.0.end }
        let third = keyPress(7, timestamp: 4000)
        XCTAssertEqual(keys(first + second + third, receiver: &receiver), "447")
    }

    func testLostStartPacketsStillReportOnce() {
        var receiver = TelephoneEventReceiver()
        let onlyEnds = keyPress(9, timestamp: 1000).filter { $0.0.end }
        XCTAssertEqual(keys(onlyEnds, receiver: &receiver), "9")
    }

    func testTimestampWrapAround() {
        var receiver = TelephoneEventReceiver()
        let packets = keyPress(2, timestamp: 0xFFFF_FF00) + keyPress(3, timestamp: 0x0000_0500)
            + [(TelephoneEvent(event: 2, end: true), 0xFFFF_FF00)]  // late duplicate from before the wrap
            + keyPress(3, timestamp: 0x0000_1500)
        XCTAssertEqual(keys(packets, receiver: &receiver), "233")
    }

    func testReorderedLatePacketsOfPreviousEventAreIgnored() {
        var receiver = TelephoneEventReceiver()
        var packets = keyPress(5, timestamp: 8000) + keyPress(6, timestamp: 10000)
        // An end packet of "5" arriving after "6" started.
        packets.insert((TelephoneEvent(event: 5, end: true, duration: 1120), 8000), at: 11)
        XCTAssertEqual(keys(packets, receiver: &receiver), "56")
    }

    func testTimestampDiscontinuityStartsNewEvent() {
        var receiver = TelephoneEventReceiver()
        // A jump far backwards (e.g. a sender restart) is not mistaken for a late packet.
        let packets = keyPress(1, timestamp: 5_000_000) + keyPress(2, timestamp: 100)
        XCTAssertEqual(keys(packets, receiver: &receiver), "12")
        receiver.reset()
        XCTAssertEqual(receiver.receive(TelephoneEvent(event: 2), timestamp: 100), "2")
    }

    func testLongEventSegmentsAreOneKey() {
        // RFC 4733 §2.5.1.3: an event longer than 0xFFFF ticks continues in a new segment.
        var receiver = TelephoneEventReceiver()
        let segment1 = [(TelephoneEvent(event: 0, duration: 0x8000), UInt32(1000)),
                        (TelephoneEvent(event: 0, duration: 0xFFFF), UInt32(1000))]
        let segment2 = [(TelephoneEvent(event: 0, duration: 160), UInt32(1000 + 0xFFFF)),
                        (TelephoneEvent(event: 0, end: true, duration: 320), UInt32(1000 + 0xFFFF))]
        XCTAssertEqual(keys(segment1 + segment2 + keyPress(0, timestamp: 200_000), receiver: &receiver), "00")
    }

    func testNonDTMFEventsAreTrackedButNotReported() {
        var receiver = TelephoneEventReceiver()
        XCTAssertEqual(keys(keyPress(16, timestamp: 100) + keyPress(8, timestamp: 2000), receiver: &receiver), "8")
    }
}
