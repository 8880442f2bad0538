// Codec-independent interfaces used by the media plane.
//
// All PCM is signed 16-bit linear, mono, native endianness. A frame is 20 ms
// (`sampleRate / 50` samples) unless a type documents otherwise. Payloads are
// RTP payloads without the RTP header. Implementations wrap C state: they are
// not Sendable and must stay confined to the event loop that owns them.

/// Turns PCM frames into RTP payloads.
public protocol AudioEncoder: AnyObject {
    /// The PCM sample rate fed to `encode`, in Hz.
    var sampleRate: Int { get }

    /// Encodes one frame (`sampleRate / 50` samples), appending the payload to `out`.
    /// Returns the number of bytes appended; 0 is allowed (discontinuous
    /// transmission: send nothing for this frame).
    func encode(_ pcm: UnsafeBufferPointer<Int16>, into out: inout [UInt8]) -> Int
}

/// Turns RTP payloads into PCM.
public protocol AudioDecoder: AnyObject {
    /// The PCM sample rate produced, in Hz.
    var sampleRate: Int { get }

    /// Decodes one RTP payload, appending PCM to `out`. Returns the number of
    /// samples appended; 0 for a corrupt payload (never traps).
    func decode(_ payload: UnsafeRawBufferPointer, into out: inout [Int16]) -> Int

    /// Packet loss concealment: synthesises `samples` samples standing in for a
    /// missing frame and appends them to `out`.
    func conceal(samples: Int, into out: inout [Int16])
}

extension AudioEncoder {
    /// Samples in one 20 ms frame at `sampleRate`.
    public var frameSamples: Int { sampleRate / 50 }

    /// Array convenience for `encode(_:into:)`.
    @discardableResult
    public func encode(_ pcm: [Int16], into out: inout [UInt8]) -> Int {
        pcm.withUnsafeBufferPointer { encode($0, into: &out) }
    }
}

extension AudioDecoder {
    /// Samples in one 20 ms frame at `sampleRate`.
    public var frameSamples: Int { sampleRate / 50 }

    /// Array convenience for `decode(_:into:)`.
    @discardableResult
    public func decode(_ payload: [UInt8], into out: inout [Int16]) -> Int {
        payload.withUnsafeBytes { decode($0, into: &out) }
    }
}
