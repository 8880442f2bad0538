import XCTest
import AudioCodecs

final class ToneGeneratorTests: XCTestCase {
    /// Generates `ms` of the tone in 20 ms calls.
    private func generate(_ tone: CallProgressTone, sampleRate: Int, ms: Int) -> [Int16] {
        var generator = ToneGenerator(tone: tone, sampleRate: sampleRate)
        var out: [Int16] = []
        for _ in 0..<(ms / 20) { generator.next(into: &out, samples: sampleRate / 50) }
        return out
    }

    /// Checks every 10 ms block lying wholly inside an on or off period.
    private func checkCadence(_ tone: CallProgressTone, sampleRate: Int, ms: Int,
                              file: StaticString = #filePath, line: UInt = #line) {
        let signal = generate(tone, sampleRate: sampleRate, ms: ms)
        let (onMs, offMs) = tone.cadence
        let block = sampleRate / 100
        let expectedRMS = 32_767 * pow(10, (-10 - 3.14) / 20) / 2.squareRoot()
        var checkedOn = 0, checkedOff = 0
        for start in stride(from: 0, to: signal.count - block, by: block) {
            let startMs = start * 1_000 / sampleRate
            let endMs = startMs + 10
            let period = onMs + offMs
            let phaseStart = startMs % period, phaseEnd = (endMs - 1) % period
            let rms = TestSignals.rms(signal[start..<(start + block)])
            if phaseStart >= 5 && phaseEnd < onMs - 5 && phaseStart <= phaseEnd {
                XCTAssertEqual(rms, expectedRMS, accuracy: expectedRMS * 0.1, "on at \(startMs) ms", file: file, line: line)
                checkedOn += 1
            } else if phaseStart >= onMs && phaseEnd >= onMs && phaseStart <= phaseEnd {
                XCTAssertEqual(rms, 0, "off at \(startMs) ms", file: file, line: line)
                checkedOff += 1
            }
        }
        XCTAssertGreaterThan(checkedOn, 10, file: file, line: line)
        XCTAssertGreaterThan(checkedOff, 10, file: file, line: line)
    }

    func testRingbackCadenceIsOneSecondOnFourOff() {
        checkCadence(.ringback, sampleRate: 8_000, ms: 12_000)
        checkCadence(.ringback, sampleRate: 16_000, ms: 6_000)
    }

    func testBusyAndCongestionCadences() {
        checkCadence(.busy, sampleRate: 8_000, ms: 3_000)
        checkCadence(.busy, sampleRate: 48_000, ms: 2_000)
        checkCadence(.congestion, sampleRate: 8_000, ms: 4_000)
    }

    func testToneIs450HzAtMinus10dBm0() {
        let signal = generate(.ringback, sampleRate: 8_000, ms: 1_000)
        let crossings = zip(signal.dropFirst(), signal).filter { $0 >= 0 && $1 < 0 }.count
        XCTAssertEqual(crossings, 450, accuracy: 2)
        let peak = signal.map { abs(Int($0)) }.max() ?? 0
        XCTAssertEqual(Double(peak), 32_767 * pow(10, -13.14 / 20), accuracy: 20)
        let tone = TestSignals.power(signal, frequency: 450, sampleRate: 8_000)
        XCTAssertGreaterThan(tone, 100 * TestSignals.power(signal, frequency: 400, sampleRate: 8_000))
    }

    func testDialToneIsContinuousAndPhaseIsContinuousAcrossCalls() {
        let dial = generate(.dial, sampleRate: 8_000, ms: 2_000)
        for block in TestSignals.frames(dial, of: 80) {
            XCTAssertGreaterThan(TestSignals.rms(block), 4_000)
        }
        // Odd-sized calls give the same signal as 20 ms calls.
        var generator = ToneGenerator(tone: .busy, sampleRate: 8_000)
        var odd: [Int16] = []
        var size = 1
        while odd.count < 16_000 {
            generator.next(into: &odd, samples: min(size, 16_000 - odd.count))
            size = size % 317 + 13
        }
        XCTAssertEqual(odd, generate(.busy, sampleRate: 8_000, ms: 2_000))
    }

    func testEdgesAreRamped() {
        let signal = generate(.busy, sampleRate: 8_000, ms: 700)
        // The first samples of an on period and the last before the off period are small.
        XCTAssertLessThan(abs(Int(signal[0])), 1_000)
        XCTAssertLessThan(abs(Int(signal[2_799])), 1_000)
        XCTAssertEqual(signal[2_800], 0)
    }

    func testComfortNoiseLevelAndDeterminism() {
        var noise = ComfortNoise()
        var out: [Int16] = []
        noise.next(into: &out, samples: 80_000)
        let rms = TestSignals.rms(out)
        let expected = 32_768 * pow(10, -60.0 / 20)
        XCTAssertEqual(rms, expected, accuracy: expected * 0.1)
        let mean = out.reduce(0.0) { $0 + Double($1) } / Double(out.count)
        XCTAssertEqual(mean, 0, accuracy: 1)
        XCTAssertGreaterThan(Set(out).count, 50, "noise, not a constant")

        var same = ComfortNoise()
        var again: [Int16] = []
        for _ in 0..<500 { same.next(into: &again, samples: 160) }
        XCTAssertEqual(again, out, "same seed, same noise, whatever the call sizes")
        var other = ComfortNoise(seed: 1)
        var different: [Int16] = []
        other.next(into: &different, samples: 160)
        XCTAssertNotEqual(different, Array(out[..<160]))
    }
}
