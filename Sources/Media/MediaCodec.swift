import AudioCodecs

/// The audio codecs a leg can use, as the media engine sees them: how to frame, time and
/// (when audio must be decoded) code each one. Negotiation lives in SDP (`AudioCodec`).
public enum MediaCodec: String, Sendable, Equatable, CaseIterable {
    case pcmu, pcma, g722, opus

    public var name: String {
        switch self {
        case .pcmu: return "PCMU"
        case .pcma: return "PCMA"
        case .g722: return "G722"
        case .opus: return "opus"
        }
    }

    /// The RTP timestamp clock (RFC 3551 §4.5.2 for G.722's 8000, RFC 7587 §4.1 for Opus).
    public var rtpClockRate: Int {
        switch self {
        case .pcmu, .pcma, .g722: return 8000
        case .opus: return 48000
        }
    }

    /// RTP timestamp units per 20 ms frame.
    public var timestampsPerFrame: UInt32 { UInt32(rtpClockRate / 50) }

    public var law: G711Law? {
        switch self {
        case .pcmu: return .ulaw
        case .pcma: return .alaw
        case .g722, .opus: return nil
        }
    }

    public init(law: G711Law) { self = law == .ulaw ? .pcmu : .pcma }
}

/// Engine-wide codec settings (`media.opus` in the configuration).
public struct CodecSettings: Sendable, Equatable {
    /// The rate Opus codes at: 8000, 16000 (wideband speech, the default) or 48000.
    public var opusSampleRate: Int
    public var opusBitrate: Int
    /// In-band forward error correction (RFC 7587 §3.3): a lost packet is rebuilt from the next.
    public var opusFEC: Bool
    /// Discontinuous transmission: near-silent frames are sent rarely.
    public var opusDTX: Bool
    public var opusComplexity: Int
    /// The loss rate the encoder plans FEC for, in percent.
    public var opusExpectedLossPercent: Int

    public init(opusSampleRate: Int = 16000, opusBitrate: Int = 24000, opusFEC: Bool = true, opusDTX: Bool = false,
                opusComplexity: Int = 5, opusExpectedLossPercent: Int = 5) {
        self.opusSampleRate = opusSampleRate
        self.opusBitrate = opusBitrate
        self.opusFEC = opusFEC
        self.opusDTX = opusDTX
        self.opusComplexity = opusComplexity
        self.opusExpectedLossPercent = opusExpectedLossPercent
    }

    /// The rate of the linear audio a codec's decoder produces and its encoder takes.
    public func sampleRate(of codec: MediaCodec) -> Int {
        switch codec {
        case .pcmu, .pcma: return 8000
        case .g722: return 16000
        case .opus: return opusSampleRate
        }
    }

    func makeEncoder(_ codec: MediaCodec) throws(CodecError) -> AudioEncoder {
        switch codec {
        case .pcmu, .pcma: return G711Encoder(law: codec.law!)
        case .g722: return G722Encoder()
        case .opus:
            return try OpusEncoder(
                sampleRate: opusSampleRate,
                configuration: OpusEncoder.Configuration(
                    bitrate: opusBitrate, inbandFEC: opusFEC, dtx: opusDTX,
                    expectedPacketLossPercent: opusExpectedLossPercent, complexity: opusComplexity))
        }
    }

    func makeDecoder(_ codec: MediaCodec) throws(CodecError) -> AudioDecoder {
        switch codec {
        case .pcmu, .pcma: return G711Decoder(law: codec.law!)
        case .g722: return G722Decoder()
        case .opus: return try OpusDecoder(sampleRate: opusSampleRate)
        }
    }
}

/// G.711 through the Swift tables, behind the same protocols as the C codecs.
final class G711Encoder: AudioEncoder {
    let law: G711Law
    let sampleRate = 8000
    init(law: G711Law) { self.law = law }

    func encode(_ pcm: UnsafeBufferPointer<Int16>, into out: inout [UInt8]) -> Int {
        out.reserveCapacity(out.count + pcm.count)
        switch law {
        case .ulaw: for s in pcm { out.append(G711.encodeULaw(s)) }
        case .alaw: for s in pcm { out.append(G711.encodeALaw(s)) }
        }
        return pcm.count
    }
}

/// G.711 decoding with spandsp's packet loss concealment (ITU-T G.711 Appendix I style) for gaps.
final class G711Decoder: AudioDecoder {
    let law: G711Law
    let sampleRate = 8000
    private let concealer = PacketLossConcealer()
    private var scratch: [Int16] = []

    init(law: G711Law) { self.law = law }

    func decode(_ payload: UnsafeRawBufferPointer, into out: inout [Int16]) -> Int {
        let table = law == .ulaw ? G711.ulawTable : G711.alawTable
        scratch.removeAll(keepingCapacity: true)
        for byte in payload { scratch.append(table[Int(byte)]) }
        concealer.rx(&scratch)
        out.append(contentsOf: scratch)
        return scratch.count
    }

    func conceal(samples: Int, into out: inout [Int16]) {
        concealer.fillIn(samples: samples, into: &out)
    }
}
