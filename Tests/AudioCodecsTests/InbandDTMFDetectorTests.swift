import XCTest
import AudioCodecs

final class InbandDTMFDetectorTests: XCTestCase {
    /// ITU-T Q.23 frequencies.
    private static let rows: [Double] = [697, 770, 852, 941]
    private static let columns: [Double] = [1_209, 1_336, 1_477, 1_633]
    private static let keypad: [[Character]] = [["1", "2", "3", "A"], ["4", "5", "6", "B"],
                                                ["7", "8", "9", "C"], ["*", "0", "#", "D"]]
    /// −10 dBm0 per tone.
    private static let amplitude = 7_000.0

    private func tone(_ key: Character, ms: Int) -> [Int16] {
        let row = Self.keypad.firstIndex { $0.contains(key) }!
        let column = Self.keypad[row].firstIndex(of: key)!
        return TestSignals.dualTone(Self.rows[row], Self.columns[column], sampleRate: 8_000,
                                    count: ms * 8, amplitude: Self.amplitude)
    }

    private func silence(ms: Int) -> [Int16] { [Int16](repeating: 0, count: ms * 8) }

    /// Feeds `signal` in 20 ms frames and collects the keys.
    private func detect(_ signal: [Int16], detector: InbandDTMFDetector = InbandDTMFDetector()) -> [Character] {
        TestSignals.frames(signal, of: 160).flatMap { detector.process($0) }
    }

    func testDetectsEachKeyOnceAtFiftyMillisecondCadence() {
        var signal: [Int16] = silence(ms: 100)
        for key: Character in ["1", "5", "#"] {
            signal += tone(key, ms: 50) + silence(ms: 50)
        }
        signal += silence(ms: 100)
        XCTAssertEqual(detect(signal), ["1", "5", "#"])
    }

    func testDetectsAllSixteenKeys() {
        let keys = Array("123A456B789C*0#D")
        let signal = keys.flatMap { tone($0, ms: 60) + silence(ms: 60) }
        XCTAssertEqual(detect(signal), keys)
    }

    func testLongPressIsReportedOnceAndRepeatedKeysTwice() {
        let signal = tone("9", ms: 800) + silence(ms: 100) + tone("9", ms: 80) + silence(ms: 100)
        XCTAssertEqual(detect(signal), ["9", "9"])
    }

    func testKeyStraddlingFramesAndOddBlockSizes() {
        let detector = InbandDTMFDetector()
        let signal = silence(ms: 33) + tone("0", ms: 70) + silence(ms: 70)
        var keys: [Character] = []
        var offset = 0
        var size = 7
        while offset < signal.count {
            let end = min(offset + size, signal.count)
            keys += detector.process(Array(signal[offset..<end]))
            offset = end
            size = size * 3 % 251 + 1
        }
        XCTAssertEqual(keys, ["0"])
    }

    func testIgnoresSingleToneSilenceNoiseAndSweep() {
        XCTAssertEqual(detect(TestSignals.sine(frequency: 1_000, sampleRate: 8_000, count: 16_000)), [])
        XCTAssertEqual(detect(silence(ms: 2_000)), [])
        var noise: [Int16] = []
        var generator = ComfortNoise(levelDBov: -20, seed: 42)
        generator.next(into: &noise, samples: 16_000)
        XCTAssertEqual(detect(noise), [])
        // Linear sweep 300 Hz -> 3400 Hz over 3 s, passing through every DTMF frequency.
        let count = 24_000
        var phase = 0.0
        let sweep: [Int16] = (0..<count).map { n in
            let frequency = 300 + 3_100 * Double(n) / Double(count)
            phase += 2 * Double.pi * frequency / 8_000
            return Int16(10_000 * sin(phase))
        }
        XCTAssertEqual(detect(sweep), [])
    }
}
