import AudioCodecs

/// A leg's incoming audio as linear samples, one 20 ms frame per media clock tick: packets go
/// through an adaptive jitter buffer, are decoded, lost ones concealed, and the result is
/// resampled to the rate the consumer asked for (recording, in-band key detection, mixing).
/// Only legs that need decoded audio have one; a pure relay never decodes.
final class DecodedReceiver {
    private(set) var codec: MediaCodec
    let outputRate: Int
    private let settings: CodecSettings
    private var decoder: AudioDecoder
    private var jitter: JitterBuffer<[UInt8]>
    private var decoded: [Int16] = []
    private var resampler: Resampler?
    private var resampled: [Int16] = []
    /// In-band DTMF (spandsp), fed at 8 kHz.
    private var keyDetector: InbandDTMFDetector?
    private var narrowband: Resampler?
    private var narrow: [Int16] = []

    private(set) var concealedFrames: UInt64 = 0

    init(codec: MediaCodec, outputRate: Int, settings: CodecSettings, detectKeys: Bool) throws(CodecError) {
        self.codec = codec
        self.outputRate = outputRate
        self.settings = settings
        decoder = try settings.makeDecoder(codec)
        jitter = JitterBuffer(clockRate: codec.rtpClockRate)
        let rate = settings.sampleRate(of: codec)
        resampler = rate == outputRate ? nil : Resampler(from: rate, to: outputRate)
        if detectKeys { enableKeyDetection() }
    }

    var detectsKeys: Bool { keyDetector != nil }

    func enableKeyDetection() {
        guard keyDetector == nil else { return }
        keyDetector = InbandDTMFDetector()
        narrowband = outputRate == 8000 ? nil : Resampler(from: outputRate, to: 8000)
    }

    func disableKeyDetection() {
        keyDetector = nil
        narrowband = nil
    }

    /// The leg's codec changed (re-INVITE): start over with a decoder for the new one.
    func change(codec new: MediaCodec) throws(CodecError) {
        guard new != codec else { return }
        decoder = try settings.makeDecoder(new)
        codec = new
        let rate = settings.sampleRate(of: new)
        resampler = rate == outputRate ? nil : Resampler(from: rate, to: outputRate)
        jitter = JitterBuffer(clockRate: new.rtpClockRate)
    }

    func insert(_ payload: UnsafeRawBufferPointer, sequence: UInt16, timestamp: UInt32, ssrc: UInt32, arrivalMs: UInt64) {
        // A new SSRC restarts the buffer: the new source's numbering starts over.
        jitter.insert(sequence: sequence, timestamp: timestamp, payload: Array(payload), arrival: arrivalMs, ssrc: ssrc)
    }

    /// The next 20 ms at `outputRate` into `out` (replacing its contents; silence while nothing
    /// has arrived), and the in-band keys that started in it.
    func nextFrame(nowMs: UInt64, into out: inout [Int16]) -> [Character] {
        let codecFrame = settings.sampleRate(of: codec) / 50
        // Packets longer than 20 ms leave audio over for the next ticks.
        var pops = 0
        while decoded.count < codecFrame && pops < 3 {
            pops += 1
            switch jitter.pop(now: nowMs) {
            case .frame(let payload):
                let before = decoded.count
                payload.withUnsafeBytes { _ = decoder.decode($0, into: &decoded) }
                if decoded.count == before { decoder.conceal(samples: codecFrame, into: &decoded) }   // corrupt payload
            case .missing:
                concealedFrames += 1
                decoder.conceal(samples: codecFrame, into: &decoded)
            case .empty:
                pops = 3
            }
        }
        let outFrame = outputRate / 50
        out.removeAll(keepingCapacity: true)
        if decoded.count >= codecFrame {
            if var resampler {
                resampled.removeAll(keepingCapacity: true)
                decoded.withUnsafeBufferPointer { resampler.process(UnsafeBufferPointer(rebasing: $0[0..<codecFrame]), into: &resampled) }
                self.resampler = resampler
                out.append(contentsOf: resampled.prefix(outFrame))
            } else {
                out.append(contentsOf: decoded[0..<codecFrame])
            }
            decoded.removeFirst(codecFrame)
        }
        if out.count < outFrame { out.append(contentsOf: repeatElement(0, count: outFrame - out.count)) }
        guard let detector = keyDetector else { return [] }
        if var narrowband {
            narrow.removeAll(keepingCapacity: true)
            out.withUnsafeBufferPointer { narrowband.process($0, into: &narrow) }
            self.narrowband = narrowband
            return narrow.withUnsafeBufferPointer { detector.process($0) }
        }
        return out.withUnsafeBufferPointer { detector.process($0) }
    }
}
