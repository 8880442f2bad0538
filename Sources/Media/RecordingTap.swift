import AudioCodecs
import Recording

/// Records one leg's conversation in stereo: the left channel is what the leg's party says
/// (its incoming audio, through the jitter buffer), the right is everything it hears from us
/// (prompts, music, the bridged party, whoever that is after a transfer). Attached to the
/// citizen's leg, so the recording follows the citizen through IVR, queue, agent and robot.
final class RecordingTap {
    let recorder: CallRecorder
    let rate: Int
    private let settings: CodecSettings
    /// What we sent, decoded, waiting for its tick.
    private var heard: [Int16] = []
    private var sentCodec: MediaCodec?
    private var sentDecoder: AudioDecoder?
    private var sentResampler: Resampler?
    private var promptResampler: Resampler?
    private var mixResampler: Resampler?
    private var mixResamplerRate = 0
    private var scratch: [Int16] = []
    private var scratch2: [Int16] = []
    private var silence: [Int16]

    init(recorder: CallRecorder, rate: Int, settings: CodecSettings) {
        self.recorder = recorder
        self.rate = rate
        self.settings = settings
        silence = [Int16](repeating: 0, count: rate / 50)
        promptResampler = rate == 8000 ? nil : Resampler(from: 8000, to: rate)
    }

    /// A frame of 8 kHz audio we sent (a prompt; nil for silence).
    func sent(prompt frame: UnsafeBufferPointer<Int16>?) {
        guard let frame else {
            heard.append(contentsOf: silence)
            trim()
            return
        }
        if var promptResampler {
            scratch.removeAll(keepingCapacity: true)
            promptResampler.process(frame, into: &scratch)
            self.promptResampler = promptResampler
            heard.append(contentsOf: scratch)
        } else {
            heard.append(contentsOf: frame)
        }
        trim()
    }

    /// A frame of `rate` audio we sent (a conference mix).
    func sent(pcm: UnsafeBufferPointer<Int16>, rate pcmRate: Int) {
        if pcmRate == rate {
            heard.append(contentsOf: pcm)
        } else {
            if mixResampler == nil || mixResamplerRate != pcmRate {
                mixResampler = Resampler(from: pcmRate, to: rate)
                mixResamplerRate = pcmRate
            }
            scratch.removeAll(keepingCapacity: true)
            mixResampler!.process(pcm, into: &scratch)
            heard.append(contentsOf: scratch)
        }
        trim()
    }

    /// An audio payload we sent in `codec` (relayed or transcoded from the other party).
    func sent(payload: UnsafeRawBufferPointer, codec: MediaCodec) {
        if sentCodec != codec {
            sentCodec = codec
            sentDecoder = try? settings.makeDecoder(codec)
            let from = settings.sampleRate(of: codec)
            sentResampler = from == rate ? nil : Resampler(from: from, to: rate)
        }
        guard let decoder = sentDecoder else { return }
        scratch.removeAll(keepingCapacity: true)
        _ = decoder.decode(payload, into: &scratch)
        if var sentResampler {
            scratch2.removeAll(keepingCapacity: true)
            scratch.withUnsafeBufferPointer { sentResampler.process($0, into: &scratch2) }
            self.sentResampler = sentResampler
            heard.append(contentsOf: scratch2)
        } else {
            heard.append(contentsOf: scratch)
        }
        trim()
    }

    /// Relayed packets arrive with the network's jitter: keep at most 60 ms waiting, so the
    /// right channel never drifts behind the left.
    private func trim() {
        let limit = 3 * rate / 50
        if heard.count > limit { heard.removeFirst(heard.count - limit) }
    }

    /// One tick: `said` (the party's frame, at `rate`) and the oldest frame of what it heard.
    func tick(said: [Int16]) {
        let frame = rate / 50
        said.withUnsafeBufferPointer { left in
            if heard.count >= frame {
                heard.withUnsafeBufferPointer { right in
                    recorder.append(left: left, right: UnsafeBufferPointer(rebasing: right[0..<frame]))
                }
                heard.removeFirst(frame)
            } else {
                silence.withUnsafeBufferPointer { recorder.append(left: left, right: $0) }
            }
        }
    }
}
