// Packet loss concealment for G.711 streams, over spandsp's plc_t.
//
// On a gap the last pitch period (found by AMDF over the last 35 ms, pitch
// 66–200 Hz at 8 kHz) is repeated with a quarter-period overlap-add, fading
// linearly to silence over 400 samples (50 ms) from the start of the gap; the
// first good samples after a gap are cross-faded with the synthetic signal.
// Same idea as ITU-T G.711 Appendix I, simpler. Tuned for 8 kHz.

internal import CSpanDSP

/// Waveform-based packet loss concealer for 8 kHz PCM (G.711).
///
/// Feed every good frame through `rx` (which may modify it: the first frame
/// after a gap is smoothed) and call `fillIn` for every missing one.
/// Allocation failure of the C state traps, like any Swift allocation.
public final class PacketLossConcealer {
    /// The PCM rate the concealer is tuned for.
    public static let sampleRate = 8_000

    private let state: UnsafeMutablePointer<plc_state_t>

    public init() {
        guard let state = plc_init(nil) else {
            fatalError("plc_init: out of memory")
        }
        self.state = state
    }

    deinit {
        _ = plc_free(state)
    }

    /// Forgets the history (new stream).
    public func reset() {
        _ = plc_init(state)
    }

    /// Feeds good (received) audio, in place.
    public func rx(_ samples: UnsafeMutableBufferPointer<Int16>) {
        guard let base = samples.baseAddress, !samples.isEmpty else { return }
        _ = plc_rx(state, base, Int32(clamping: samples.count))
    }

    /// Feeds good audio held in `samples[start...]`, in place. The default
    /// feeds the whole array; pass the previous count after appending a decoded
    /// frame to feed just that frame.
    public func rx(_ samples: inout [Int16], from start: Int = 0) {
        precondition(start >= 0 && start <= samples.count, "start out of range")
        samples.withUnsafeMutableBufferPointer { buffer in
            rx(UnsafeMutableBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Synthesises `samples` samples for a gap and appends them to `out`.
    public func fillIn(samples: Int, into out: inout [Int16]) {
        guard samples > 0 else { return }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: samples))
        out.withUnsafeMutableBufferPointer { buffer in
            _ = plc_fillin(state, buffer.baseAddress! + start, Int32(clamping: samples))
        }
    }
}
