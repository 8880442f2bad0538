import XCTest

@testable import RTP

/// The E-model estimate (G.107 simplified): known points, the codec constants, monotonicity
/// and the clamps.
final class QualityEstimateTests: XCTestCase {
    func testCleanShortCallIsNearTheNarrowbandMaximum() {
        let q = QualityEstimate(packetLossPercent: 0, jitterMs: 0, roundTripMs: 20, codec: .g711)
        XCTAssertEqual(q.oneWayDelayMs, 20)                     // 20/2 + 0 + 10
        XCTAssertEqual(q.delayImpairment, 0.48, accuracy: 1e-9)
        XCTAssertEqual(q.effectiveEquipmentImpairment, 0)
        XCTAssertEqual(q.rFactor, 92.72, accuracy: 1e-9)
        XCTAssertEqual(q.mos, 4.40, accuracy: 0.01)
    }

    func testFivePercentLossWithoutConcealmentIsPoor() {
        let q = QualityEstimate(packetLossPercent: 5, jitterMs: 0, roundTripMs: 20, codec: .g711)
        // Ie,eff = 95 × 5 / (5 + 4.3) = 51.08; R = 92.72 - 51.08 = 41.64.
        XCTAssertEqual(q.effectiveEquipmentImpairment, 51.08, accuracy: 0.01)
        XCTAssertEqual(q.rFactor, 41.64, accuracy: 0.01)
        XCTAssertLessThan(q.mos, 3.6)
        XCTAssertEqual(q.mos, 2.14, accuracy: 0.01)
    }

    func testConcealmentAndBurstinessMatter() {
        let withoutPLC = QualityEstimate(packetLossPercent: 5, jitterMs: 0, roundTripMs: 20, codec: .g711)
        let withPLC = QualityEstimate(packetLossPercent: 5, jitterMs: 0, roundTripMs: 20, codec: .g711WithPLC)
        XCTAssertEqual(withPLC.effectiveEquipmentImpairment, 95 * 5 / (5 + 25.1), accuracy: 1e-9)
        XCTAssertGreaterThan(withPLC.mos, withoutPLC.mos + 1)
        let bursty = QualityEstimate(packetLossPercent: 5, jitterMs: 0, roundTripMs: 20, codec: .g711WithPLC, burstRatio: 2)
        XCTAssertLessThan(bursty.mos, withPLC.mos)
        // Opus and G.722 presets: a codec impairment without loss, robust under loss.
        let opus = QualityEstimate(packetLossPercent: 0, jitterMs: 0, roundTripMs: 20, codec: .opus)
        XCTAssertEqual(opus.effectiveEquipmentImpairment, 6)
        XCTAssertEqual(QualityEstimate(packetLossPercent: 0, jitterMs: 0, roundTripMs: 20, codec: .g722).mos,
                       QualityEstimate(packetLossPercent: 0, jitterMs: 0, roundTripMs: 20, codec: .g711).mos)
    }

    func testDelayImpairmentHasItsKneeAt177Milliseconds() {
        XCTAssertEqual(QualityEstimate.delayImpairment(oneWayDelayMs: 100), 2.4, accuracy: 1e-9)
        XCTAssertEqual(QualityEstimate.delayImpairment(oneWayDelayMs: 177.3), 4.2552, accuracy: 1e-9)
        XCTAssertEqual(QualityEstimate.delayImpairment(oneWayDelayMs: 200), 4.8 + 0.11 * 22.7, accuracy: 1e-9)
        XCTAssertEqual(QualityEstimate.oneWayDelay(roundTripMs: 100, jitterMs: 15), 50 + 30 + 10)
    }

    func testMOSFallsMonotonicallyWithLoss() {
        for codec in [CodecImpairment.g711, .g711WithPLC, .g722, .opus] {
            var previous = QualityEstimate(packetLossPercent: 0, jitterMs: 5, roundTripMs: 40, codec: codec)
            for step in 1...200 {
                let q = QualityEstimate(packetLossPercent: Double(step) * 0.5, jitterMs: 5, roundTripMs: 40, codec: codec)
                XCTAssertLessThan(q.rFactor, previous.rFactor, "loss \(Double(step) * 0.5) %")
                if q.rFactor > 10 {
                    XCTAssertLessThan(q.mos, previous.mos, "loss \(Double(step) * 0.5) %")
                } else {
                    XCTAssertLessThanOrEqual(q.mos, previous.mos, "loss \(Double(step) * 0.5) %")
                }
                previous = q
            }
        }
    }

    func testMOSFallsMonotonicallyWithDelayAndJitter() {
        var previous = QualityEstimate(packetLossPercent: 1, jitterMs: 0, roundTripMs: 0, codec: .g711WithPLC)
        for rtt in stride(from: 10.0, through: 2_000, by: 10) {
            let q = QualityEstimate(packetLossPercent: 1, jitterMs: 0, roundTripMs: rtt, codec: .g711WithPLC)
            XCTAssertLessThanOrEqual(q.mos, previous.mos, "RTT \(rtt) ms")
            if q.rFactor > 10 { XCTAssertLessThan(q.mos, previous.mos, "RTT \(rtt) ms") }
            previous = q
        }
        previous = QualityEstimate(packetLossPercent: 1, jitterMs: 0, roundTripMs: 50, codec: .g711WithPLC)
        for jitter in stride(from: 5.0, through: 500, by: 5) {
            let q = QualityEstimate(packetLossPercent: 1, jitterMs: jitter, roundTripMs: 50, codec: .g711WithPLC)
            XCTAssertLessThanOrEqual(q.mos, previous.mos, "jitter \(jitter) ms")
            previous = q
        }
        // A satellite-like delay on a clean line is noticeably worse than a terrestrial one.
        XCTAssertLessThan(QualityEstimate(packetLossPercent: 0, jitterMs: 0, roundTripMs: 600, codec: .g711).mos, 4.0)
    }

    func testMOSScaleAndClamps() {
        XCTAssertEqual(QualityEstimate.mos(rFactor: 100), 4.5)
        XCTAssertEqual(QualityEstimate.mos(rFactor: 150), 4.5)
        XCTAssertEqual(QualityEstimate.mos(rFactor: 0), 1)
        XCTAssertEqual(QualityEstimate.mos(rFactor: -20), 1)
        XCTAssertEqual(QualityEstimate.mos(rFactor: 3), 1)   // the polynomial dips below 1 here
        XCTAssertEqual(QualityEstimate.mos(rFactor: 50), 1 + 1.75 + 7e-6 * 50 * -10 * 50, accuracy: 1e-12)
        // Garbage in: still a score on the scale.
        for q in [
            QualityEstimate(packetLossPercent: .nan, jitterMs: .nan, roundTripMs: .nan, codec: .g711),
            QualityEstimate(packetLossPercent: -5, jitterMs: -1, roundTripMs: -100, codec: .g711),
            QualityEstimate(packetLossPercent: 1_000, jitterMs: .infinity, roundTripMs: .infinity, codec: .g711),
            QualityEstimate(packetLossPercent: 0, jitterMs: 0, roundTripMs: 0,
                            codec: CodecImpairment(equipmentImpairment: 0, packetLossRobustness: 0)),
        ] {
            XCTAssertTrue((1...4.5).contains(q.mos), "\(q)")
            XCTAssertTrue((0...100).contains(q.rFactor), "\(q)")
        }
        XCTAssertEqual(QualityEstimate(packetLossPercent: 100, jitterMs: 0, roundTripMs: 0, codec: .g711).mos, 1)
    }
}
