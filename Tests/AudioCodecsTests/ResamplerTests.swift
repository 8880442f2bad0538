import XCTest
import AudioCodecs

final class ResamplerTests: XCTestCase {
    private static let pairs = [(8_000, 16_000), (16_000, 8_000), (8_000, 48_000),
                                (48_000, 8_000), (16_000, 48_000), (48_000, 16_000)]

    /// Resamples `input` in 20 ms frames.
    private func resample(_ input: [Int16], from: Int, to: Int) -> [Int16] {
        var resampler = Resampler(from: from, to: to)
        var out: [Int16] = []
        for frame in TestSignals.frames(input, of: from / 50) {
            let before = out.count
            resampler.process(frame, into: &out)
            XCTAssertEqual(out.count - before, to / 50, "a 20 ms frame yields a 20 ms frame")
        }
        return out
    }

    func testToneKeepsFrequencyAndLevelForEveryPair() {
        for (from, to) in Self.pairs {
            let input = TestSignals.sine(frequency: 1_000, sampleRate: from, count: from / 2)
            let output = resample(input, from: from, to: to)
            XCTAssertEqual(output.count, to / 2)
            let steady = output[(to / 20)...]  // past the filter delay
            let tone = TestSignals.power(steady, frequency: 1_000, sampleRate: to)
            for other in [500.0, 1_500, 2_000, 3_000] {
                let leak = TestSignals.power(steady, frequency: other, sampleRate: to)
                XCTAssertGreaterThan(TestSignals.decibels(tone / max(leak, 1e-9)), 40, "\(from)->\(to): \(other) Hz")
            }
            let gain = TestSignals.rms(steady) / TestSignals.rms(input[(from / 20)...])
            XCTAssertEqual(gain, 1, accuracy: 0.02, "\(from)->\(to) pass-band gain")
        }
    }

    func testFramesJoinSeamlessly() {
        for (from, to) in Self.pairs {
            let input = TestSignals.sine(frequency: 700, sampleRate: from, count: from / 5, amplitude: 20_000)
            let framed = resample(input, from: from, to: to)
            var oneShot: [Int16] = []
            var resampler = Resampler(from: from, to: to)
            resampler.process(input, into: &oneShot)
            XCTAssertEqual(framed, oneShot, "\(from)->\(to): framing does not change the output")
            // Once the filter has filled (5 ms), no step exceeds the sine's own
            // steepest slope (plus ripple and rounding), frame boundaries included.
            let maxStep = 20_000 * 2 * Double.pi * 700 / Double(to) * 1.05 + 2
            let settled = framed[(to / 200)...]
            let steps = zip(settled.dropFirst(), settled).map { abs(Double($0) - Double($1)) }
            XCTAssertLessThanOrEqual(steps.max() ?? 0, maxStep, "\(from)->\(to): discontinuity")
        }
    }

    func testDownsamplingRejectsAliases() {
        // Above the new Nyquist frequency: would fold back to 3 kHz / 2 kHz / 4 kHz.
        let cases: [(from: Int, to: Int, frequency: Double)] = [(16_000, 8_000, 5_000), (48_000, 8_000, 10_000),
                                                                (48_000, 16_000, 12_000)]
        for (from, to, frequency) in cases {
            let input = TestSignals.sine(frequency: frequency, sampleRate: from, count: from / 2)
            let output = resample(input, from: from, to: to)
            let attenuation = TestSignals.rms(output[(to / 20)...]) / TestSignals.rms(input)
            XCTAssertLessThan(TestSignals.decibels(attenuation * attenuation), -45, "\(from)->\(to) \(frequency) Hz")
        }
        // 3.5 kHz is inside the 8 kHz band: it passes, only slightly attenuated at the band edge.
        let edge = TestSignals.sine(frequency: 3_500, sampleRate: 16_000, count: 8_000)
        let output = resample(edge, from: 16_000, to: 8_000)
        let gain = TestSignals.rms(output[400...]) / TestSignals.rms(edge)
        XCTAssertGreaterThan(TestSignals.decibels(gain * gain), -3)
    }

    func testUpsamplingSuppressesImages() {
        for (from, to) in [(8_000, 16_000), (8_000, 48_000), (16_000, 48_000)] {
            let input = TestSignals.sine(frequency: 1_000, sampleRate: from, count: from / 2)
            let output = Array(resample(input, from: from, to: to)[(to / 20)...])
            let tone = TestSignals.power(output, frequency: 1_000, sampleRate: to)
            // Images of 1 kHz around multiples of the input rate.
            for image in [Double(from) - 1_000, Double(from) + 1_000] where image < Double(to) / 2 {
                let leak = TestSignals.power(output, frequency: image, sampleRate: to)
                XCTAssertGreaterThan(TestSignals.decibels(tone / max(leak, 1e-9)), 45, "\(from)->\(to) image \(image)")
            }
        }
    }

    func testSameRatePassesThroughAndSupportMatrix() {
        var resampler = Resampler(from: 16_000, to: 16_000)
        let input: [Int16] = [1, -2, 3, 32_767, -32_768]
        var out: [Int16] = []
        resampler.process(input, into: &out)
        XCTAssertEqual(out, input)
        XCTAssertTrue(Resampler.isSupported(from: 48_000, to: 8_000))
        XCTAssertFalse(Resampler.isSupported(from: 44_100, to: 8_000))
        XCTAssertFalse(Resampler.isSupported(from: 8_000, to: 12_000))
    }

    func testFullScaleInputClipsInsteadOfWrapping() {
        var square: [Int16] = []
        for _ in 0..<40 { square += [Int16](repeating: 32_767, count: 10) + [Int16](repeating: -32_768, count: 10) }
        for (from, to) in Self.pairs where from == 8_000 {
            var resampler = Resampler(from: from, to: to)
            var out: [Int16] = []
            resampler.process(square, into: &out)
            // Gibbs overshoot must saturate: a wrapped sample would flip sign next to a full-scale one.
            let flips = zip(out.dropFirst(), out).filter { abs(Int($0) - Int($1)) > 60_000 }.count
            XCTAssertEqual(flips, 0, "\(from)->\(to)")
        }
    }

    func testResetClearsHistory() {
        var resampler = Resampler(from: 8_000, to: 16_000)
        var out: [Int16] = []
        resampler.process(TestSignals.sine(frequency: 1_000, sampleRate: 8_000, count: 160), into: &out)
        resampler.reset()
        out.removeAll()
        resampler.process([Int16](repeating: 0, count: 160), into: &out)
        XCTAssertEqual(out, [Int16](repeating: 0, count: 320))
    }
}
