// Opus (RFC 6716) over libopus, mono, application VOIP.
//
// RTP (RFC 7587 §4.1): the RTP clock rate of Opus is always 48000 Hz and the
// SDP always says "opus/48000/2", whatever rate the codec runs at internally.
// The codec itself can run at 8, 16 or 48 kHz PCM; the RTP layer converts
// sample counts to 48 kHz timestamp units (`Opus.rtpClockRate`).

internal import COpus

/// Shared Opus constants and validation.
public enum Opus {
    /// The RTP clock rate of every Opus stream (RFC 7587 §4.1).
    public static let rtpClockRate = 48_000

    /// PCM rates this module runs the codec at.
    public static let supportedSampleRates: Set<Int> = [8_000, 16_000, 48_000]

    /// Longest Opus packet duration (RFC 6716 §3.2.5): 120 ms.
    static func maxPacketSamples(sampleRate: Int) -> Int { sampleRate * 120 / 1000 }

    /// Opus frame durations are multiples of 2.5 ms.
    static func quantum(sampleRate: Int) -> Int { sampleRate / 400 }

    static func error(_ operation: String, _ code: Int32) -> CodecError {
        .opus(operation: operation, code: code, message: String(cString: opus_strerror(code)))
    }

    static func validate(sampleRate: Int) throws(CodecError) {
        guard supportedSampleRates.contains(sampleRate) else {
            throw .unsupportedSampleRate(sampleRate)
        }
    }
}

/// Opus encoder: one mono 20 ms frame in, one RTP payload out.
public final class OpusEncoder: AudioEncoder {
    /// Encoder settings (libopus `OPUS_SET_*` requests).
    public struct Configuration: Sendable, Equatable {
        /// Target bit rate in bits/s (6000...510000). VBR.
        public var bitrate: Int
        /// In-band forward error correction (SILK LBRR, RFC 6716 §2.1.7). Only
        /// emitted when `expectedPacketLossPercent` > 0.
        public var inbandFEC: Bool
        /// Discontinuous transmission (RFC 7587 §3.1.3): during silence
        /// `encode` returns 0 for frames that need not be sent. The RTP layer
        /// keeps advancing the timestamp and marks the first packet after a
        /// suppressed run (RFC 3551 §4.1).
        public var dtx: Bool
        /// Expected packet loss in percent (0...100); tunes the FEC redundancy.
        public var expectedPacketLossPercent: Int
        /// Computational complexity (0...10). Lower is cheaper.
        public var complexity: Int

        public init(
            bitrate: Int = 24_000,
            inbandFEC: Bool = true,
            dtx: Bool = false,
            expectedPacketLossPercent: Int = 5,
            complexity: Int = 5
        ) {
            self.bitrate = bitrate
            self.inbandFEC = inbandFEC
            self.dtx = dtx
            self.expectedPacketLossPercent = expectedPacketLossPercent
            self.complexity = complexity
        }

        func validate() throws(CodecError) {
            try Self.check("bitrate", bitrate, 6_000...510_000)
            try Self.check("expectedPacketLossPercent", expectedPacketLossPercent, 0...100)
            try Self.check("complexity", complexity, 0...10)
        }

        private static func check(_ name: String, _ value: Int, _ valid: ClosedRange<Int>) throws(CodecError) {
            guard valid.contains(value) else {
                throw .invalidParameter(name: name, value: value, valid: valid)
            }
        }
    }

    public let sampleRate: Int
    public private(set) var configuration: Configuration

    private let encoder: OpaquePointer
    /// Reused output buffer; 1275 bytes is the largest single Opus frame (RFC 6716 §3.4 R2).
    private var packetBuffer = [UInt8](repeating: 0, count: 1_275)

    /// Creates an encoder for `sampleRate` (8000, 16000 or 48000 Hz) PCM.
    public init(sampleRate: Int, configuration: Configuration = Configuration()) throws(CodecError) {
        try Opus.validate(sampleRate: sampleRate)
        try configuration.validate()
        var status: Int32 = OPUS_OK
        guard let encoder = opus_encoder_create(Int32(sampleRate), 1, OPUS_APPLICATION_VOIP, &status),
              status == OPUS_OK
        else {
            throw Opus.error("opus_encoder_create", status)
        }
        do {
            try Self.apply(configuration, to: encoder)
        } catch {
            opus_encoder_destroy(encoder)
            throw error
        }
        self.sampleRate = sampleRate
        self.configuration = configuration
        self.encoder = encoder
    }

    deinit {
        opus_encoder_destroy(encoder)
    }

    /// Changes the settings of a running encoder (e.g. the expected loss from RTCP reports).
    public func reconfigure(_ configuration: Configuration) throws(CodecError) {
        try configuration.validate()
        try Self.apply(configuration, to: encoder)
        self.configuration = configuration
    }

    /// Clears the encoder history (new stream), keeping the configuration.
    public func reset() {
        _ = hotline_opus_encoder_reset(encoder)
    }

    /// Encodes one frame. Any Opus frame duration is accepted (2.5, 5, 10, 20,
    /// 40, 60, 80, 100 or 120 ms); other lengths append nothing and return 0.
    public func encode(_ pcm: UnsafeBufferPointer<Int16>, into out: inout [UInt8]) -> Int {
        guard let samples = pcm.baseAddress, !pcm.isEmpty else { return 0 }
        let length = packetBuffer.withUnsafeMutableBufferPointer { buffer in
            // The buffer is never empty, so baseAddress is non-nil.
            opus_encode(encoder, samples, Int32(pcm.count), buffer.baseAddress!, Int32(buffer.count))
        }
        guard length > 0 else { return 0 }
        // In DTX libopus emits TOC-only packets (1–2 bytes) that carry no audio
        // and are not transmitted (same rule as libwebrtc).
        if configuration.dtx && length <= 2 { return 0 }
        out.append(contentsOf: packetBuffer[0..<Int(length)])
        return Int(length)
    }

    private static func apply(_ configuration: Configuration, to encoder: OpaquePointer) throws(CodecError) {
        let requests: [(String, Int32)] = [
            ("OPUS_SET_BITRATE", hotline_opus_set_bitrate(encoder, Int32(configuration.bitrate))),
            ("OPUS_SET_INBAND_FEC", hotline_opus_set_inband_fec(encoder, configuration.inbandFEC ? 1 : 0)),
            ("OPUS_SET_DTX", hotline_opus_set_dtx(encoder, configuration.dtx ? 1 : 0)),
            ("OPUS_SET_PACKET_LOSS_PERC",
             hotline_opus_set_packet_loss_perc(encoder, Int32(configuration.expectedPacketLossPercent))),
            ("OPUS_SET_COMPLEXITY", hotline_opus_set_complexity(encoder, Int32(configuration.complexity))),
        ]
        for (name, status) in requests where status != OPUS_OK {
            throw Opus.error(name, status)
        }
    }
}

/// Opus decoder with packet loss concealment and in-band FEC recovery.
public final class OpusDecoder: AudioDecoder {
    public let sampleRate: Int

    private let decoder: OpaquePointer
    /// Reused PCM buffer holding the longest packet (120 ms).
    private var pcmBuffer: [Int16]

    /// Creates a decoder producing `sampleRate` (8000, 16000 or 48000 Hz) PCM.
    /// Any Opus stream can be decoded at any of these rates.
    public init(sampleRate: Int) throws(CodecError) {
        try Opus.validate(sampleRate: sampleRate)
        var status: Int32 = OPUS_OK
        guard let decoder = opus_decoder_create(Int32(sampleRate), 1, &status), status == OPUS_OK else {
            throw Opus.error("opus_decoder_create", status)
        }
        self.sampleRate = sampleRate
        self.decoder = decoder
        self.pcmBuffer = [Int16](repeating: 0, count: Opus.maxPacketSamples(sampleRate: sampleRate))
    }

    deinit {
        opus_decoder_destroy(decoder)
    }

    /// Clears the decoder history (new stream / SSRC change).
    public func reset() {
        _ = hotline_opus_decoder_reset(decoder)
    }

    public func decode(_ payload: UnsafeRawBufferPointer, into out: inout [Int16]) -> Int {
        // An empty payload would make libopus run PLC for the whole buffer; it is not a packet.
        guard !payload.isEmpty, payload.count <= Int(Int32.max) else { return 0 }
        return run(payload, frameSize: pcmBuffer.count, fec: false, into: &out)
    }

    /// Opus PLC (`opus_decode` with no data). Opus conceals in multiples of
    /// 2.5 ms; a remainder shorter than that is filled with silence.
    public func conceal(samples: Int, into out: inout [Int16]) {
        guard samples > 0 else { return }
        let quantum = Opus.quantum(sampleRate: sampleRate)
        var remaining = samples
        while remaining >= quantum {
            let chunk = min(remaining - remaining % quantum, pcmBuffer.count)
            let produced = run(nil, frameSize: chunk, fec: false, into: &out)
            guard produced > 0 else { break }
            remaining -= produced
        }
        if remaining > 0 {
            out.append(contentsOf: repeatElement(0, count: remaining))
        }
    }

    /// Recovers a lost frame of `samples` samples from the in-band FEC (LBRR)
    /// data carried by the packet that followed it (RFC 6716 §2.1.7). Call it
    /// for the lost frame, then `decode` the same `nextPayload` normally.
    ///
    /// When `nextPayload` carries no FEC, libopus conceals instead; when it is
    /// corrupt or `samples` is not a multiple of 2.5 ms, `conceal` is used.
    /// Always appends exactly `samples` samples and returns that count.
    @discardableResult
    public func decodeFEC(nextPayload: UnsafeRawBufferPointer, samples: Int, into out: inout [Int16]) -> Int {
        guard samples > 0 else { return 0 }
        let quantum = Opus.quantum(sampleRate: sampleRate)
        if !nextPayload.isEmpty, samples % quantum == 0, samples <= pcmBuffer.count {
            let start = out.count
            let produced = run(nextPayload, frameSize: samples, fec: true, into: &out)
            if produced == samples { return samples }
            out.removeSubrange(start...)
        }
        conceal(samples: samples, into: &out)
        return samples
    }

    /// Array convenience for `decodeFEC(nextPayload:samples:into:)`.
    @discardableResult
    public func decodeFEC(nextPayload: [UInt8], samples: Int, into out: inout [Int16]) -> Int {
        nextPayload.withUnsafeBytes { decodeFEC(nextPayload: $0, samples: samples, into: &out) }
    }

    /// Duration of an Opus packet in samples at `sampleRate`, from its TOC
    /// byte and frame count (RFC 6716 §3.1); nil if the packet is malformed.
    public static func packetSamples(_ payload: UnsafeRawBufferPointer, sampleRate: Int) -> Int? {
        guard !payload.isEmpty, payload.count <= Int(Int32.max), sampleRate > 0 else { return nil }
        let samples = payload.withMemoryRebound(to: UInt8.self) { bytes in
            opus_packet_get_nb_samples(bytes.baseAddress!, Int32(bytes.count), Int32(sampleRate))
        }
        return samples > 0 ? Int(samples) : nil
    }

    /// Array convenience for `packetSamples(_:sampleRate:)`.
    public static func packetSamples(_ payload: [UInt8], sampleRate: Int) -> Int? {
        payload.withUnsafeBytes { packetSamples($0, sampleRate: sampleRate) }
    }

    /// Runs `opus_decode` into the scratch buffer and appends the result.
    /// A nil payload runs PLC. Returns samples appended (0 on error).
    private func run(_ payload: UnsafeRawBufferPointer?, frameSize: Int, fec: Bool, into out: inout [Int16]) -> Int {
        let decoded: Int32 = pcmBuffer.withUnsafeMutableBufferPointer { pcm in
            // Neither buffer is empty here, so both base addresses are non-nil.
            let output = pcm.baseAddress!
            guard let payload, !payload.isEmpty else {
                return opus_decode(decoder, nil, 0, output, Int32(frameSize), 0)
            }
            return payload.withMemoryRebound(to: UInt8.self) { bytes in
                opus_decode(decoder, bytes.baseAddress!, Int32(bytes.count), output, Int32(frameSize), fec ? 1 : 0)
            }
        }
        guard decoded > 0 else { return 0 }
        out.append(contentsOf: pcmBuffer[0..<Int(decoded)])
        return Int(decoded)
    }
}
