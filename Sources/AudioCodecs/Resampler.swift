// Integer-ratio sample rate conversion between 8, 16 and 48 kHz.
//
// One linear-phase low-pass FIR (Kaiser-windowed sinc) runs at the higher of
// the two rates. Its cutoff is the Nyquist frequency of the lower rate and its
// transition band spans ±15 % around it (e.g. 3.4–4.6 kHz for 8 kHz), with
// about 60 dB stop-band attenuation: 24 taps per phase for every ratio.
//  - Upsampling by L: polyphase interpolation (anti-imaging), L outputs per input.
//  - Downsampling by M: one output per M inputs (anti-aliasing).
// Components that fold back from the transition band land above 3.4 kHz
// (6.8 kHz for 16 kHz output), outside the speech pass band.
//
// The filter history is kept between calls, so a stream fed in 20 ms frames
// produces exactly the output of feeding it in one piece: frame boundaries
// are seamless. Group delay is (24·L − 1)/2 samples of the higher rate, just
// under 12 samples (1.5 ms at 8 kHz) of the lower rate.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Converts 16-bit PCM between 8000, 16000 and 48000 Hz (ratios 2, 3 and 6).
///
/// A value type: copying a resampler copies its filter history. Not shared
/// between streams; keep one per direction per call leg.
public struct Resampler: Sendable {
    /// Taps per polyphase branch.
    static let tapsPerPhase = 24
    /// Kaiser window β for about 60 dB stop-band attenuation.
    static let kaiserBeta = 5.65
    static let supportedRates: Set<Int> = [8_000, 16_000, 48_000]

    public let inputRate: Int
    public let outputRate: Int

    private enum Mode: Sendable {
        case passthrough
        case up(factor: Int)
        case down(factor: Int)
    }

    private let mode: Mode
    /// Up: `factor` branches of `tapsPerPhase` taps, each stored time-reversed.
    /// Down: the whole prototype (symmetric, so already time-reversed).
    private let coefficients: [Float]
    /// Taps applied per output sample.
    private let window: Int
    /// The last `window - 1` inputs, followed by the current call's inputs.
    private var line: [Float]
    /// Down: inputs still to consume before the next output (0 = output now).
    private var skip = 0

    /// Whether a conversion between these rates is supported.
    public static func isSupported(from inputRate: Int, to outputRate: Int) -> Bool {
        supportedRates.contains(inputRate) && supportedRates.contains(outputRate)
    }

    /// Creates a converter. Both rates must be 8000, 16000 or 48000 Hz
    /// (see `isSupported(from:to:)`); equal rates copy the input through.
    public init(from inputRate: Int, to outputRate: Int) {
        precondition(Self.isSupported(from: inputRate, to: outputRate),
                     "unsupported resampling \(inputRate) Hz -> \(outputRate) Hz")
        self.inputRate = inputRate
        self.outputRate = outputRate
        if inputRate == outputRate {
            mode = .passthrough
            coefficients = []
            window = 0
            line = []
            return
        }
        let factor = max(inputRate, outputRate) / min(inputRate, outputRate)
        if outputRate > inputRate {
            mode = .up(factor: factor)
            window = Self.tapsPerPhase
            coefficients = Self.interpolators[factor]!
        } else {
            mode = .down(factor: factor)
            window = factor * Self.tapsPerPhase
            coefficients = Self.decimators[factor]!
        }
        line = [Float](repeating: 0, count: window - 1)
    }

    /// Converts `input` and appends the result to `out`. Input of any length is
    /// accepted; a 20 ms frame yields a 20 ms frame.
    public mutating func process(_ input: UnsafeBufferPointer<Int16>, into out: inout [Int16]) {
        guard !input.isEmpty else { return }
        switch mode {
        case .passthrough:
            out.append(contentsOf: input)
        case .up(let factor):
            append(input)
            interpolate(count: input.count, factor: factor, into: &out)
            keepHistory()
        case .down(let factor):
            append(input)
            decimate(count: input.count, factor: factor, into: &out)
            keepHistory()
        }
    }

    /// Array convenience for `process(_:into:)`.
    public mutating func process(_ input: [Int16], into out: inout [Int16]) {
        input.withUnsafeBufferPointer { process($0, into: &out) }
    }

    /// Clears the filter history (new stream).
    public mutating func reset() {
        for index in line.indices { line[index] = 0 }
        skip = 0
    }

    // MARK: - Filtering

    private mutating func append(_ input: UnsafeBufferPointer<Int16>) {
        line.reserveCapacity(window - 1 + input.count)
        for sample in input { line.append(Float(sample)) }
    }

    /// Drops everything but the last `window - 1` inputs.
    private mutating func keepHistory() {
        line.removeFirst(line.count - (window - 1))
    }

    private func interpolate(count: Int, factor: Int, into out: inout [Int16]) {
        let taps = Self.tapsPerPhase
        out.reserveCapacity(out.count + count * factor)
        line.withUnsafeBufferPointer { line in
            coefficients.withUnsafeBufferPointer { coefficients in
                for index in 0..<count {
                    // line[index ..< index + taps] ends with the newest input.
                    let samples = line.baseAddress! + index
                    for phase in 0..<factor {
                        let branch = coefficients.baseAddress! + phase * taps
                        var sum: Float = 0
                        for tap in 0..<taps { sum += branch[tap] * samples[tap] }
                        out.append(Self.clamp(sum))
                    }
                }
            }
        }
    }

    private mutating func decimate(count: Int, factor: Int, into out: inout [Int16]) {
        let taps = window
        var index = skip
        out.reserveCapacity(out.count + count / factor + 1)
        line.withUnsafeBufferPointer { line in
            coefficients.withUnsafeBufferPointer { coefficients in
                while index < count {
                    let samples = line.baseAddress! + index
                    var sum: Float = 0
                    for tap in 0..<taps { sum += coefficients[tap] * samples[tap] }
                    out.append(Self.clamp(sum))
                    index += factor
                }
            }
        }
        skip = index - count
    }

    private static func clamp(_ value: Float) -> Int16 {
        Int16(max(-32_768, min(32_767, value.rounded())))
    }

    // MARK: - Filter design

    /// Designed once per ratio and shared (copy-on-write) by all instances.
    private static let decimators: [Int: [Float]] = Dictionary(uniqueKeysWithValues: [2, 3, 6].map { factor in
        // The prototype is symmetric, so it is its own time reversal.
        (factor, lowPass(factor: factor).map { Float($0) })
    })

    private static let interpolators: [Int: [Float]] = Dictionary(uniqueKeysWithValues: [2, 3, 6].map { factor in
        (factor, polyphase(lowPass(factor: factor), factor: factor))
    })

    /// Splits the prototype into `factor` branches, branch p holding
    /// prototype[p + i·L] time-reversed; the gain L restores the level lost to
    /// the zeros that upsampling inserts.
    static func polyphase(_ prototype: [Double], factor: Int) -> [Float] {
        var branches = [Float](repeating: 0, count: prototype.count)
        for phase in 0..<factor {
            for tap in 0..<tapsPerPhase {
                branches[phase * tapsPerPhase + tapsPerPhase - 1 - tap] =
                    Float(prototype[phase + tap * factor] * Double(factor))
            }
        }
        return branches
    }

    /// Kaiser-windowed sinc low-pass of `factor · tapsPerPhase` taps at the
    /// higher rate, cutoff at the lower rate's Nyquist frequency, unity DC gain.
    static func lowPass(factor: Int) -> [Double] {
        let count = factor * tapsPerPhase
        let cutoff = 0.5 / Double(factor)  // cycles per sample at the higher rate
        let centre = Double(count - 1) / 2
        let norm = besselI0(kaiserBeta)
        var taps = (0..<count).map { n -> Double in
            let t = Double(n) - centre
            let x = 2 * cutoff * t
            let sinc = x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
            let r = t / centre
            let kaiser = besselI0(kaiserBeta * (1 - r * r).squareRoot()) / norm
            return 2 * cutoff * sinc * kaiser
        }
        let sum = taps.reduce(0, +)
        for index in taps.indices { taps[index] /= sum }
        return taps
    }

    /// Zeroth-order modified Bessel function of the first kind (power series).
    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0
        var term = 1.0
        let half = x / 2
        for k in 1...30 {
            term *= (half / Double(k)) * (half / Double(k))
            sum += term
            if term < sum * 1e-12 { break }
        }
        return sum
    }
}
