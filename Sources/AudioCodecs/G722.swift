// ITU-T G.722 (7 kHz wideband SB-ADPCM) at 64 kbit/s over spandsp.
//
// PCM is 16 kHz; every pair of samples becomes one byte, so a 20 ms frame is
// 320 samples and 160 bytes. RTP quirk (RFC 3551 §4.5.2): G.722 (static
// payload type 9) is advertised with an RTP clock rate of 8000 Hz although it
// samples at 16000 Hz, an error kept for backward compatibility. RTP
// timestamps therefore advance by 160 per 20 ms frame; the RTP layer applies
// `G722.rtpClockRate`, the codec works in real 16 kHz samples.

internal import CSpanDSP

/// G.722 constants.
public enum G722 {
    /// The PCM sample rate of the codec.
    public static let sampleRate = 16_000
    /// The RTP clock rate to use for timestamps and SDP (RFC 3551 §4.5.2).
    public static let rtpClockRate = 8_000
    /// The only bit rate used with RTP payload type 9.
    public static let bitRate = 64_000
}

/// G.722 encoder, 64 kbit/s, 16 kHz PCM in.
///
/// The spandsp state is allocated by `init`; allocation failure traps, like
/// any Swift allocation.
public final class G722Encoder: AudioEncoder {
    public let sampleRate = G722.sampleRate

    private let state: OpaquePointer

    public init() {
        guard let state = g722_encode_init(nil, Int32(G722.bitRate), 0) else {
            fatalError("g722_encode_init: out of memory")
        }
        self.state = state
    }

    deinit {
        _ = g722_encode_free(state)
    }

    /// Encodes a frame of an even number of samples (one byte per two
    /// samples). An odd-length frame appends nothing and returns 0.
    public func encode(_ pcm: UnsafeBufferPointer<Int16>, into out: inout [UInt8]) -> Int {
        guard let samples = pcm.baseAddress, !pcm.isEmpty, pcm.count.isMultiple(of: 2) else { return 0 }
        let start = out.count
        let capacity = pcm.count / 2
        out.append(contentsOf: repeatElement(0, count: capacity))
        let written = out.withUnsafeMutableBufferPointer { buffer in
            Int(g722_encode(state, buffer.baseAddress! + start, samples, Int32(clamping: pcm.count)))
        }
        let produced = min(max(written, 0), capacity)
        out.removeLast(capacity - produced)
        return produced
    }
}

/// G.722 decoder, 64 kbit/s, 16 kHz PCM out.
///
/// Concealment runs spandsp's pitch-repetition PLC on the decoded 16 kHz
/// audio. That PLC is tuned for 8 kHz, so at 16 kHz it tracks pitch between
/// 133 and 400 Hz and fades out within 25 ms; this is adequate for the short
/// gaps a jitter buffer leaves. The ADPCM state is not advanced across a gap;
/// its backward adaptation re-converges on the packets that follow.
public final class G722Decoder: AudioDecoder {
    public let sampleRate = G722.sampleRate

    private let state: OpaquePointer
    private let concealer = PacketLossConcealer()

    public init() {
        guard let state = g722_decode_init(nil, Int32(G722.bitRate), 0) else {
            fatalError("g722_decode_init: out of memory")
        }
        self.state = state
    }

    deinit {
        _ = g722_decode_free(state)
    }

    /// Every byte is a valid G.722 code word, so any non-empty payload decodes
    /// to two samples per byte.
    public func decode(_ payload: UnsafeRawBufferPointer, into out: inout [Int16]) -> Int {
        guard !payload.isEmpty, payload.count <= Int(Int32.max) / 2 else { return 0 }
        let start = out.count
        let capacity = payload.count * 2
        out.append(contentsOf: repeatElement(0, count: capacity))
        let written = out.withUnsafeMutableBufferPointer { buffer in
            payload.withMemoryRebound(to: UInt8.self) { bytes in
                Int(g722_decode(state, buffer.baseAddress! + start, bytes.baseAddress!, Int32(bytes.count)))
            }
        }
        let produced = min(max(written, 0), capacity)
        out.removeLast(capacity - produced)
        concealer.rx(&out, from: start)
        return produced
    }

    public func conceal(samples: Int, into out: inout [Int16]) {
        concealer.fillIn(samples: samples, into: &out)
    }
}
