// Call-progress tones and comfort noise.
//
// Tones follow the Chinese national plan (GB/T 3380, YD/T 1970): a single
// 450 Hz tone whose cadence tells the state. Levels are in dBm0 (ITU-T G.711:
// a full-scale sine is +3.14 dBm0) and dBov (ITU-T G.100.1: 0 dBov is a
// full-scale square wave, RMS 32768).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A call-progress tone per GB/T 3380 / YD/T 1970 (450 Hz).
public enum CallProgressTone: Sendable, Equatable, CaseIterable {
    /// Dial tone: continuous.
    case dial
    /// Ringback (回铃音): 1 s on, 4 s off.
    case ringback
    /// Busy (忙音): 0.35 s on, 0.35 s off.
    case busy
    /// Congestion (拥塞音): 0.7 s on, 0.7 s off.
    case congestion

    /// Tone frequency in Hz.
    public var frequency: Double { 450 }

    /// On and off durations in milliseconds; `offMs` 0 means continuous.
    public var cadence: (onMs: Int, offMs: Int) {
        switch self {
        case .dial: return (1_000, 0)
        case .ringback: return (1_000, 4_000)
        case .busy: return (350, 350)
        case .congestion: return (700, 700)
        }
    }
}

/// Generates a call-progress tone, continuous in phase and cadence across calls.
public struct ToneGenerator: Sendable {
    /// Full-scale sine level (ITU-T G.711, A-law).
    static let fullScaleSineDBm0 = 3.14
    /// Raised-cosine ramp at each on/off edge, avoiding clicks.
    static let rampMs = 4

    public let tone: CallProgressTone
    public let sampleRate: Int

    private let amplitude: Double
    private let phaseStep: Double
    private let onSamples: Int
    /// Cadence period in samples; 0 for a continuous tone.
    private let periodSamples: Int
    private let rampSamples: Int
    private var phase = 0.0
    /// Position within the cadence period.
    private var position = 0

    /// - Parameters:
    ///   - levelDBm0: tone level; the default −10 dBm0 is a peak of about 0.22 full scale.
    public init(tone: CallProgressTone, sampleRate: Int, levelDBm0: Double = -10) {
        precondition(sampleRate >= 2_000, "sample rate too low for a 450 Hz tone")
        self.tone = tone
        self.sampleRate = sampleRate
        amplitude = 32_767 * pow(10, (levelDBm0 - Self.fullScaleSineDBm0) / 20)
        phaseStep = 2 * Double.pi * tone.frequency / Double(sampleRate)
        let cadence = tone.cadence
        onSamples = cadence.onMs * sampleRate / 1_000
        periodSamples = cadence.offMs == 0 ? 0 : (cadence.onMs + cadence.offMs) * sampleRate / 1_000
        rampSamples = Self.rampMs * sampleRate / 1_000
    }

    /// Restarts the cadence at the beginning of an on period.
    public mutating func reset() {
        phase = 0
        position = 0
    }

    /// Appends the next `samples` samples of the tone to `out`.
    public mutating func next(into out: inout [Int16], samples: Int) {
        guard samples > 0 else { return }
        out.reserveCapacity(out.count + samples)
        for _ in 0..<samples {
            let gain = envelope(at: position)
            out.append(gain == 0 ? 0 : Int16((amplitude * gain * sin(phase)).rounded()))
            phase += phaseStep
            if phase >= 2 * Double.pi { phase -= 2 * Double.pi }
            if periodSamples > 0 {
                position += 1
                if position == periodSamples { position = 0 }
            }
        }
    }

    /// Gain at a position in the cadence: 0 off, 1 on, raised cosine at the edges.
    private func envelope(at position: Int) -> Double {
        guard periodSamples > 0 else { return 1 }
        guard position < onSamples else { return 0 }
        let fromEdge = min(position, onSamples - 1 - position)
        guard fromEdge < rampSamples else { return 1 }
        return 0.5 - 0.5 * cos(Double.pi * Double(fromEdge + 1) / Double(rampSamples + 1))
    }
}

/// Low-level white noise so that a silent leg is not dead air (and so that
/// endpoints with silence detection do not hang up).
public struct ComfortNoise: Sendable {
    /// Noise RMS level in dBov.
    public let levelDBov: Double

    private let scale: Double
    private var state: UInt64

    /// - Parameters:
    ///   - levelDBov: RMS level; the default −60 dBov is an RMS of about 33.
    ///   - seed: generator seed; any value, fixed for reproducible output.
    public init(levelDBov: Double = -60, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) {
        self.levelDBov = levelDBov
        // Each sample sums four uniforms in [-1, 1): variance 4/3, nearly Gaussian.
        scale = 32_768 * pow(10, levelDBov / 20) / (4.0 / 3.0).squareRoot()
        state = seed
    }

    /// Appends `samples` samples of noise to `out`.
    public mutating func next(into out: inout [Int16], samples: Int) {
        guard samples > 0 else { return }
        out.reserveCapacity(out.count + samples)
        for _ in 0..<samples {
            var sum = 0.0
            for _ in 0..<4 { sum += nextUniform() }
            out.append(Int16(max(-32_768, min(32_767, (sum * scale).rounded()))))
        }
    }

    /// SplitMix64, mapped to [-1, 1).
    private mutating func nextUniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 52) - 1
    }
}
