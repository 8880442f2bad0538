// ITU-T G.711 µ-law and A-law companding.
//
// Encoding follows the classic segment algorithm of the Sun/CCITT reference
// implementation (g711.c): µ-law works on the top 14 bits of a 16-bit sample,
// A-law on the top 13 bits. Decoding uses 256-entry tables built once.

/// Which G.711 companding law.
public enum G711Law: Sendable, Equatable {
    /// µ-law (PCMU, RTP payload type 0).
    case ulaw
    /// A-law (PCMA, RTP payload type 8).
    case alaw
}

public enum G711 {
    // MARK: µ-law

    private static let ulawBias: Int32 = 0x84
    private static let ulawClip: Int32 = 8159  // 14-bit magnitude limit

    /// Encodes a 16-bit linear sample as µ-law.
    @inlinable
    public static func encodeULaw(_ sample: Int16) -> UInt8 {
        var value = Int32(sample) >> 2  // 14-bit
        let mask: UInt8
        if value < 0 {
            value = -value
            mask = 0x7F
        } else {
            mask = 0xFF
        }
        if value > 8159 { value = 8159 }
        value += 0x84 >> 2
        // Segment: index of the first end point (0x3F << seg | ...) ≥ value.
        let bitWidth = 32 - value.leadingZeroBitCount
        let segment = max(0, bitWidth - 6)
        if segment >= 8 { return 0x7F ^ mask }
        let code = UInt8(segment << 4) | UInt8((value >> (segment + 1)) & 0x0F)
        return code ^ mask
    }

    /// Decodes a µ-law code to a 16-bit linear sample. 0xFF and 0x7F both decode to 0.
    @inlinable
    public static func decodeULaw(_ code: UInt8) -> Int16 {
        ulawTable[Int(code)]
    }

    /// The µ-law decoding table.
    public static let ulawTable: [Int16] = (0...255).map { ulawReferenceDecode(UInt8($0)) }

    static func ulawReferenceDecode(_ code: UInt8) -> Int16 {
        let u = Int32(~code)
        var t = ((u & 0x0F) << 3) + ulawBias
        t <<= (u & 0x70) >> 4
        return Int16(u & 0x80 != 0 ? ulawBias - t : t - ulawBias)
    }

    // MARK: A-law

    /// Encodes a 16-bit linear sample as A-law.
    @inlinable
    public static func encodeALaw(_ sample: Int16) -> UInt8 {
        var value = Int32(sample) >> 3  // 13-bit
        let mask: UInt8
        if value >= 0 {
            mask = 0xD5
        } else {
            mask = 0x55
            value = -value - 1
        }
        // value is now 0...4095, so the segment is at most 7.
        let bitWidth = 32 - value.leadingZeroBitCount
        let segment = max(0, bitWidth - 5)
        let shift = segment < 2 ? 1 : segment
        let code = UInt8(segment << 4) | UInt8((value >> shift) & 0x0F)
        return code ^ mask
    }

    /// Decodes an A-law code to a 16-bit linear sample.
    @inlinable
    public static func decodeALaw(_ code: UInt8) -> Int16 {
        alawTable[Int(code)]
    }

    /// The A-law decoding table.
    public static let alawTable: [Int16] = (0...255).map { alawReferenceDecode(UInt8($0)) }

    static func alawReferenceDecode(_ code: UInt8) -> Int16 {
        let a = Int32(code ^ 0x55)
        var t = (a & 0x0F) << 4
        let segment = (a & 0x70) >> 4
        switch segment {
        case 0: t += 8
        case 1: t += 0x108
        default:
            t += 0x108
            t <<= segment - 1
        }
        return Int16(a & 0x80 != 0 ? t : -t)
    }

    // MARK: Bulk

    /// Encodes a law's sample.
    @inlinable
    public static func encode(_ sample: Int16, law: G711Law) -> UInt8 {
        law == .ulaw ? encodeULaw(sample) : encodeALaw(sample)
    }

    /// Decodes a law's code.
    @inlinable
    public static func decode(_ code: UInt8, law: G711Law) -> Int16 {
        law == .ulaw ? decodeULaw(code) : decodeALaw(code)
    }

    /// Encodes 16-bit linear samples, one code per sample.
    public static func encode(_ pcm: [Int16], law: G711Law) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: pcm.count) { out, initialized in
            pcm.withUnsafeBufferPointer { encode($0, into: out, law: law) }
            initialized = pcm.count
        }
    }

    /// Decodes codes to 16-bit linear samples.
    public static func decode(_ codes: [UInt8], law: G711Law) -> [Int16] {
        [Int16](unsafeUninitializedCapacity: codes.count) { out, initialized in
            codes.withUnsafeBufferPointer { decode($0, into: out, law: law) }
            initialized = codes.count
        }
    }

    /// Encodes `pcm` into the first `pcm.count` elements of `output` (which must be at least as long).
    public static func encode(_ pcm: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<UInt8>, law: G711Law) {
        precondition(output.count >= pcm.count, "G.711 output buffer too small")
        switch law {
        case .ulaw: for i in pcm.indices { output[i] = encodeULaw(pcm[i]) }
        case .alaw: for i in pcm.indices { output[i] = encodeALaw(pcm[i]) }
        }
    }

    /// Decodes `codes` into the first `codes.count` elements of `output` (which must be at least as long).
    /// `codes` may be a raw payload view: see the `UnsafeRawBufferPointer` overload.
    public static func decode(_ codes: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Int16>, law: G711Law) {
        precondition(output.count >= codes.count, "G.711 output buffer too small")
        let table = law == .ulaw ? ulawTable : alawTable
        table.withUnsafeBufferPointer { t in
            for i in codes.indices { output[i] = t[Int(codes[i])] }
        }
    }

    /// Decodes a raw payload (e.g. an RTP payload slice) into `output`.
    public static func decode(_ codes: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>, law: G711Law) {
        precondition(output.count >= codes.count, "G.711 output buffer too small")
        let table = law == .ulaw ? ulawTable : alawTable
        table.withUnsafeBufferPointer { t in
            for i in 0..<codes.count { output[i] = t[Int(codes[i])] }
        }
    }
}

extension G711 {
    /// µ-law ↔ A-law by 256-entry tables (decode, then encode), for relaying between legs that
    /// negotiated different laws.
    static let ulawToALaw: [UInt8] = (0...255).map { encodeALaw(decodeULaw(UInt8($0))) }
    static let alawToULaw: [UInt8] = (0...255).map { encodeULaw(decodeALaw(UInt8($0))) }

    @inline(__always)
    static func transcode(_ code: UInt8, from: G711Law, to: G711Law) -> UInt8 {
        switch (from, to) {
        case (.ulaw, .alaw): return ulawToALaw[Int(code)]
        case (.alaw, .ulaw): return alawToULaw[Int(code)]
        case (.ulaw, .ulaw), (.alaw, .alaw): return code
        }
    }
}
