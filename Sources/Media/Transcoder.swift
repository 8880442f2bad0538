import AudioCodecs

/// One direction of a relay between legs with different codecs (e.g. the carrier's PCMU and an
/// agent's Opus): each packet is decoded as it arrives, resampled to the target's rate and
/// re-encoded in 20 ms frames. No jitter buffer: like a relay, it adds no delay beyond the
/// codec's own; a short loss (up to three frames) is concealed, from Opus FEC when possible.
final class Transcoder {
    let source: MediaCodec
    let target: MediaCodec
    private let decoder: AudioDecoder
    private let encoder: AudioEncoder
    private var resampler: Resampler?
    private let targetFrameSamples: Int
    private let sourceFrameSamples: Int
    private var decoded: [Int16] = []
    private var resampled: [Int16] = []
    /// Target-rate audio not yet a whole frame, and the RTP timestamp of its first sample.
    private var pending: [Int16] = []
    private var pendingTimestamp: UInt32 = 0
    private var encoded: [UInt8] = []
    private var lastSequence: UInt16?

    /// Longest loss concealed; a longer gap is a new talk spurt or a restart.
    static let maxConcealedFrames = 3

    init(from source: MediaCodec, to target: MediaCodec, settings: CodecSettings) throws(CodecError) {
        self.source = source
        self.target = target
        decoder = try settings.makeDecoder(source)
        encoder = try settings.makeEncoder(target)
        let from = settings.sampleRate(of: source)
        let to = settings.sampleRate(of: target)
        resampler = from == to ? nil : Resampler(from: from, to: to)
        sourceFrameSamples = from / 50
        targetFrameSamples = to / 50
    }

    /// Transcodes one packet. `timestamp` is the packet's timestamp already mapped onto the
    /// target stream's clock; `emit` gets each encoded 20 ms frame with its timestamp.
    func transcode(
        _ payload: UnsafeRawBufferPointer, sequence: UInt16, timestamp: UInt32,
        emit: (_ payload: [UInt8], _ timestamp: UInt32) -> Void
    ) {
        decoded.removeAll(keepingCapacity: true)
        var concealedFrames = 0
        if let last = lastSequence {
            let gap = Int(sequence &- last) - 1
            if gap > 0 && gap <= Self.maxConcealedFrames {
                for i in 0..<gap {
                    // The frame just before this packet can be rebuilt from this packet's FEC.
                    if i == gap - 1, let opus = decoder as? OpusDecoder {
                        opus.decodeFEC(nextPayload: payload, samples: sourceFrameSamples, into: &decoded)
                    } else {
                        decoder.conceal(samples: sourceFrameSamples, into: &decoded)
                    }
                }
                concealedFrames = gap
            } else if gap < 0 && gap > -100 {
                return   // late or duplicate: its time has passed
            }
        }
        lastSequence = sequence
        _ = decoder.decode(payload, into: &decoded)
        guard !decoded.isEmpty else { return }

        let audio: [Int16]
        if var resampler {
            resampled.removeAll(keepingCapacity: true)
            decoded.withUnsafeBufferPointer { resampler.process($0, into: &resampled) }
            self.resampler = resampler
            audio = resampled
        } else {
            audio = decoded
        }
        if pending.isEmpty {
            pendingTimestamp = timestamp &- UInt32(concealedFrames) &* target.timestampsPerFrame
        }
        pending.append(contentsOf: audio)
        var start = 0
        while pending.count - start >= targetFrameSamples {
            encoded.removeAll(keepingCapacity: true)
            pending.withUnsafeBufferPointer { all in
                _ = encoder.encode(UnsafeBufferPointer(rebasing: all[start..<(start + targetFrameSamples)]), into: &encoded)
            }
            if !encoded.isEmpty { emit(encoded, pendingTimestamp) }   // empty: DTX
            pendingTimestamp &+= target.timestampsPerFrame
            start += targetFrameSamples
        }
        pending.removeFirst(start)
    }
}
