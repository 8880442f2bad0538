import XCTest
import AudioCodecs

final class PacketLossConcealerTests: XCTestCase {
    func testFillInContinuesThePitchAndFadesOut() {
        let plc = PacketLossConcealer()
        let signal = TestSignals.sine(frequency: 400, sampleRate: 8_000, count: 2_000)
        for frame in TestSignals.frames(Array(signal[..<1_600]), of: 160) {
            var good = frame
            plc.rx(&good)
            XCTAssertEqual(good, frame, "audio without a preceding gap is passed unchanged")
        }
        var gap: [Int16] = []
        plc.fillIn(samples: 160, into: &gap)
        XCTAssertEqual(gap.count, 160)
        // The first 10 ms follow the true continuation closely.
        let truth = Array(signal[1_600..<1_680])
        XCTAssertGreaterThan(TestSignals.correlation(truth, Array(gap[..<80])), 0.9)
        XCTAssertGreaterThan(TestSignals.rms(gap[..<40]), 5_000)
        // 50 ms after the gap started the output is silent.
        var more: [Int16] = []
        plc.fillIn(samples: 320, into: &more)
        XCTAssertEqual(TestSignals.rms(more[(400 - 160)...]), 0)
    }

    func testFirstGoodFrameAfterGapIsSmoothedInPlace() {
        let plc = PacketLossConcealer()
        var warmUp = TestSignals.sine(frequency: 400, sampleRate: 8_000, count: 800)
        plc.rx(&warmUp)
        var gap: [Int16] = []
        plc.fillIn(samples: 160, into: &gap)
        let original = TestSignals.sine(frequency: 400, sampleRate: 8_000, count: 160, phase: 1.3)
        var buffer: [Int16] = [1, 2, 3] + original
        plc.rx(&buffer, from: 3)
        XCTAssertEqual(Array(buffer[..<3]), [1, 2, 3], "samples before `from` are untouched")
        XCTAssertNotEqual(Array(buffer[3..<8]), Array(original[..<5]), "overlap-add at the join")
        XCTAssertEqual(Array(buffer[(3 + 40)...]), Array(original[40...]), "beyond the overlap the frame is unchanged")
    }
}
