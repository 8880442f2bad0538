// In-band DTMF detection (ITU-T Q.23 frequencies, Q.24 reception criteria)
// over spandsp's dtmf_rx, with its default twist, level threshold and
// speech-immunity checks. Used for legs that send DTMF as audio rather than
// as RFC 4733 telephone-events.

internal import CSpanDSP

/// Detects DTMF key presses in 8 kHz PCM.
///
/// Each key press is reported once, when it is first recognised (about 40 ms
/// into the tone); a key held down is not repeated. The spandsp state is
/// allocated by `init`; allocation failure traps, like any Swift allocation.
public final class InbandDTMFDetector {
    /// The PCM rate the detector expects.
    public static let sampleRate = 8_000

    /// Digits spandsp can buffer between two reads (MAX_DTMF_DIGITS).
    private static let digitBufferSize = 128
    /// Samples fed between reads, far below what `digitBufferSize` digits need.
    private static let chunkSamples = 8_000

    /// spandsp fills its shared Goertzel tables on the first dtmf_rx_init.
    /// Doing that first call under Swift's once-initialisation keeps detectors
    /// created concurrently on different event loops from racing on them.
    private static let sharedTablesReady: Bool = {
        guard let state = dtmf_rx_init(nil, nil, nil) else { return false }
        _ = dtmf_rx_free(state)
        return true
    }()

    private let state: OpaquePointer
    /// dtmf_rx_get writes a terminating NUL after the digits: one extra byte.
    private var digitBuffer = [CChar](repeating: 0, count: InbandDTMFDetector.digitBufferSize + 1)

    public init() {
        _ = Self.sharedTablesReady
        // No callback: digits are collected with dtmf_rx_get after each block.
        guard let state = dtmf_rx_init(nil, nil, nil) else {
            fatalError("dtmf_rx_init: out of memory")
        }
        self.state = state
    }

    deinit {
        _ = dtmf_rx_free(state)
    }

    /// Feeds audio and returns the keys whose press started in it:
    /// "0"–"9", "*", "#", "A"–"D".
    public func process(_ pcm: UnsafeBufferPointer<Int16>) -> [Character] {
        var keys: [Character] = []
        var offset = 0
        while offset < pcm.count {
            let count = min(Self.chunkSamples, pcm.count - offset)
            _ = dtmf_rx(state, pcm.baseAddress! + offset, Int32(count))
            offset += count
            collect(into: &keys)
        }
        return keys
    }

    /// Array convenience for `process(_:)`.
    public func process(_ pcm: [Int16]) -> [Character] {
        pcm.withUnsafeBufferPointer { process($0) }
    }

    private func collect(into keys: inout [Character]) {
        let count = digitBuffer.withUnsafeMutableBufferPointer { buffer in
            dtmf_rx_get(state, buffer.baseAddress!, Int32(buffer.count - 1))
        }
        for index in 0..<min(Int(count), digitBuffer.count - 1) {
            let key = Character(Unicode.Scalar(UInt8(bitPattern: digitBuffer[index])))
            if Self.isKey(key) { keys.append(key) }
        }
    }

    private static func isKey(_ key: Character) -> Bool {
        switch key {
        case "0"..."9", "*", "#", "A"..."D": return true
        default: return false
        }
    }
}
