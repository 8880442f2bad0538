// Test helpers. The suite is deterministic (fixed signals, seeded PRNG,
// simulated clocks) and deliberately has no timed performance tests: timings
// on a shared 2-core CI machine are noise, not signal.

import Foundation

/// Deterministic test signals and measurements.
enum TestSignals {
    /// A sine wave starting at phase `phase` (radians).
    static func sine(
        frequency: Double, sampleRate: Int, count: Int, amplitude: Double = 10_000, phase: Double = 0
    ) -> [Int16] {
        (0..<count).map { n in
            Int16((amplitude * sin(phase + 2 * Double.pi * frequency * Double(n) / Double(sampleRate))).rounded())
        }
    }

    /// Sum of two sines (a DTMF pair), each of `amplitude`.
    static func dualTone(_ low: Double, _ high: Double, sampleRate: Int, count: Int, amplitude: Double) -> [Int16] {
        (0..<count).map { n in
            let t = Double(n) / Double(sampleRate)
            return Int16((amplitude * (sin(2 * Double.pi * low * t) + sin(2 * Double.pi * high * t))).rounded())
        }
    }

    /// Power of `frequency` in `samples` (Goertzel), normalised so that a sine
    /// of amplitude A at exactly that frequency gives about A²/4.
    static func power<C: Collection>(_ samples: C, frequency: Double, sampleRate: Int) -> Double
    where C.Element == Int16 {
        let coefficient = 2 * cos(2 * Double.pi * frequency / Double(sampleRate))
        var s1 = 0.0
        var s2 = 0.0
        for sample in samples {
            let s0 = Double(sample) + coefficient * s1 - s2
            s2 = s1
            s1 = s0
        }
        let n = Double(samples.count)
        return (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (n * n)
    }

    static func rms<C: Collection>(_ samples: C) -> Double where C.Element == Int16 {
        guard !samples.isEmpty else { return 0 }
        let sum = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (sum / Double(samples.count)).squareRoot()
    }

    static func decibels(_ ratio: Double) -> Double { 10 * log10(ratio) }

    /// Normalised correlation of two equally long signals (1 = same shape).
    static func correlation(_ a: [Int16], _ b: [Int16]) -> Double {
        bestCorrelation(reference: a, output: b, maxLag: 1).value
    }

    /// Highest normalised cross-correlation of `output` against `reference`
    /// over output lags 0..<maxLag (codec delay).
    static func bestCorrelation(reference: [Int16], output: [Int16], maxLag: Int) -> (lag: Int, value: Double) {
        var best = (lag: 0, value: -1.0)
        for lag in 0..<maxLag {
            let n = min(reference.count, output.count - lag)
            guard n > 0 else { break }
            var xy = 0.0, xx = 0.0, yy = 0.0
            for i in 0..<n {
                let x = Double(reference[i]), y = Double(output[i + lag])
                xy += x * y; xx += x * x; yy += y * y
            }
            let value = xx > 0 && yy > 0 ? xy / (xx * yy).squareRoot() : 0
            if value > best.value { best = (lag, value) }
        }
        return best
    }

    /// Splits `samples` into consecutive frames of `frame` samples (the last may be shorter).
    static func frames(_ samples: [Int16], of frame: Int) -> [[Int16]] {
        stride(from: 0, to: samples.count, by: frame).map { Array(samples[$0..<min($0 + frame, samples.count)]) }
    }
}

/// A small deterministic PRNG for tests (SplitMix64).
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
