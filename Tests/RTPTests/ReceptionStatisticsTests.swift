import XCTest

@testable import RTP

/// RFC 3550 receiver statistics: loss from sequence numbers (with wrap-around, duplicates and
/// a source restart) and the A.8 interarrival jitter.
final class ReceptionStatisticsTests: XCTestCase {
    func testEvenStreamHasNoLossAndNoJitter() {
        var stats = ReceptionStatistics()
        for i in 0..<100 {
            stats.record(ssrc: 7, sequence: UInt16(1000 + i), timestamp: UInt32(160 * i), arrival: UInt32(50_000 + 160 * i))
        }
        XCTAssertEqual(stats.received, 100)
        XCTAssertEqual(stats.expected, 100)
        XCTAssertEqual(stats.lost, 0)
        XCTAssertEqual(stats.jitter, 0)
    }

    func testGapsAreLostAndWrapAroundIsFollowed() {
        var stats = ReceptionStatistics()
        var seq: UInt16 = 65_530
        for i in 0..<20 {
            if i != 3 && i != 12 {   // two packets never arrive
                stats.record(ssrc: 1, sequence: seq, timestamp: UInt32(160 * i), arrival: UInt32(160 * i))
            }
            seq &+= 1
        }
        XCTAssertEqual(stats.expected, 20)
        XCTAssertEqual(stats.received, 18)
        XCTAssertEqual(stats.lost, 2)
        XCTAssertEqual(stats.extendedHighestSequence, 65_536 + UInt32(seq &- 1))
    }

    func testDuplicatesNeverMakeLossNegative() {
        var stats = ReceptionStatistics()
        for i in 0..<10 {
            stats.record(ssrc: 1, sequence: UInt16(i), timestamp: UInt32(160 * i), arrival: UInt32(160 * i))
            stats.record(ssrc: 1, sequence: UInt16(i), timestamp: UInt32(160 * i), arrival: UInt32(160 * i))
        }
        XCTAssertEqual(stats.lost, 0)
    }

    func testJitterFollowsArrivalVariation() {
        var stats = ReceptionStatistics()
        // Arrivals alternate 10 ms early and late (±80 timestamp units): |D| = 160 each time,
        // so J converges towards 160.
        for i in 0..<500 {
            let offset = i % 2 == 0 ? 0 : 160
            stats.record(ssrc: 3, sequence: UInt16(i), timestamp: UInt32(160 * i), arrival: UInt32(160 * i + offset))
        }
        XCTAssertEqual(Double(stats.jitter), 160, accuracy: 10)
    }

    func testNewSourceRestartsTheCount() {
        var stats = ReceptionStatistics()
        for i in 0..<10 { stats.record(ssrc: 1, sequence: UInt16(i), timestamp: 0, arrival: 0) }
        stats.record(ssrc: 2, sequence: 40_000, timestamp: 0, arrival: 0)
        XCTAssertEqual(stats.ssrc, 2)
        XCTAssertEqual(stats.received, 1)
        XCTAssertEqual(stats.lost, 0)
    }

    func testALargeJumpIsConfirmedByTheNextPacket() {
        var stats = ReceptionStatistics()
        for i in 0..<10 { stats.record(ssrc: 1, sequence: UInt16(i), timestamp: 0, arrival: 0) }
        stats.record(ssrc: 1, sequence: 30_000, timestamp: 0, arrival: 0)   // ignored once
        XCTAssertEqual(stats.received, 10)
        stats.record(ssrc: 1, sequence: 30_001, timestamp: 0, arrival: 0)   // confirmed: restart
        XCTAssertEqual(stats.received, 1)
        XCTAssertEqual(stats.lost, 0)
    }
}
