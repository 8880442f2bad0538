// RIFF/WAVE reader and writer for 16-bit linear PCM (prompts and recordings).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a WAV file could not be read or written.
public struct WAVError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file concerned.
    public var path: String
    public var reason: Reason

    public enum Reason: Sendable, Equatable {
        /// The file does not exist or cannot be read.
        case cannotRead
        /// The file cannot be created or written.
        case cannotWrite
        /// The file does not start with a RIFF/WAVE header.
        case notWAVE
        /// A chunk header or chunk is cut short or inconsistent.
        case malformedChunk(String)
        /// There is no `fmt ` chunk before the `data` chunk.
        case missingFormatChunk
        /// There is no `data` chunk.
        case missingDataChunk
        /// The format is not 16-bit linear PCM (format tag, bits per sample).
        case unsupportedFormat(formatTag: UInt16, bitsPerSample: UInt16)
        /// The `fmt ` chunk values are impossible (zero channels, zero rate, ...).
        case invalidFormat(String)
    }

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        let what: String
        switch reason {
        case .cannotRead: what = "cannot read file"
        case .cannotWrite: what = "cannot write file"
        case .notWAVE: what = "not a RIFF/WAVE file"
        case .malformedChunk(let s): what = "malformed chunk: \(s)"
        case .missingFormatChunk: what = "no 'fmt ' chunk before the 'data' chunk"
        case .missingDataChunk: what = "no 'data' chunk"
        case .unsupportedFormat(let tag, let bits):
            what = "unsupported format (format tag \(tag), \(bits) bits per sample); only 16-bit PCM is supported"
        case .invalidFormat(let s): what = "invalid format: \(s)"
        }
        return "\(path): \(what)"
    }
}

/// 16-bit linear PCM audio, interleaved when `channels` > 1.
public struct WAVFile: Sendable, Equatable {
    public var sampleRate: Int
    public var channels: Int
    /// Interleaved samples (frame count = samples.count / channels).
    public var samples: [Int16]

    public init(sampleRate: Int, channels: Int = 1, samples: [Int16]) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.samples = samples
    }

    /// Duration in seconds.
    public var duration: Double {
        guard sampleRate > 0, channels > 0 else { return 0 }
        return Double(samples.count / channels) / Double(sampleRate)
    }

    private static let formatPCM: UInt16 = 1
    private static let formatExtensible: UInt16 = 0xFFFE

    /// Reads a WAV file.
    public static func read(contentsOf path: String) throws(WAVError) -> WAVFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WAVError(path: path, reason: .cannotRead)
        }
        return try parse([UInt8](data), path: path)
    }

    /// Parses WAV file contents; `path` only names the source in errors.
    ///
    /// Skips chunks other than `fmt ` and `data` (LIST, fact, cue, ...), honours the pad
    /// byte after odd-sized chunks, and accepts WAVE_FORMAT_PCM and
    /// WAVE_FORMAT_EXTENSIBLE with the PCM sub-format, at 16 bits per sample only.
    /// The RIFF size is not trusted. A `data` chunk whose size runs past the end of the file
    /// (a truncated file, or a streamed file with a placeholder size) is read up to the last
    /// whole frame available.
    public static func parse(_ bytes: [UInt8], path: String = "<memory>") throws(WAVError) -> WAVFile {
        func fail(_ reason: WAVError.Reason) -> WAVError { WAVError(path: path, reason: reason) }
        func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 {
            UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
        }
        func fourCC(_ o: Int) -> String { String(decoding: bytes[o..<o + 4], as: UTF8.self) }

        guard bytes.count >= 12, fourCC(0) == "RIFF", fourCC(8) == "WAVE" else { throw fail(.notWAVE) }

        var format: (channels: Int, sampleRate: Int, blockAlign: Int)?
        var offset = 12
        while offset + 8 <= bytes.count {
            let id = fourCC(offset)
            let size = Int(u32(offset + 4))
            let body = offset + 8
            let available = bytes.count - body

            switch id {
            case "fmt ":
                guard size >= 16, size <= available else {
                    throw fail(.malformedChunk("'fmt ' chunk of \(size) bytes at offset \(offset) is too short or truncated"))
                }
                var tag = u16(body)
                let channels = Int(u16(body + 2))
                let sampleRate = Int(u32(body + 4))
                let blockAlign = Int(u16(body + 12))
                let bits = u16(body + 14)
                if tag == formatExtensible {
                    // cbSize(2) validBits(2) channelMask(4) subFormat GUID(16): first 2 bytes are the tag.
                    guard size >= 40 else {
                        throw fail(.malformedChunk("WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk of \(size) bytes is too short"))
                    }
                    tag = u16(body + 24)
                }
                guard tag == formatPCM, bits == 16 else { throw fail(.unsupportedFormat(formatTag: tag, bitsPerSample: bits)) }
                guard channels > 0 else { throw fail(.invalidFormat("0 channels")) }
                guard sampleRate > 0 else { throw fail(.invalidFormat("sample rate 0")) }
                guard blockAlign == channels * 2 else {
                    throw fail(.invalidFormat("block align \(blockAlign) for \(channels) channel(s) of 16 bits"))
                }
                format = (channels, sampleRate, blockAlign)
            case "data":
                guard let format else { throw fail(.missingFormatChunk) }
                let usable = min(size, available)
                let frames = usable / format.blockAlign
                let count = frames * format.channels
                let samples = [Int16](unsafeUninitializedCapacity: count) { out, initialized in
                    for i in 0..<count {
                        out[i] = Int16(bitPattern: u16(body + 2 * i))
                    }
                    initialized = count
                }
                return WAVFile(sampleRate: format.sampleRate, channels: format.channels, samples: samples)
            default:
                break
            }
            // Chunks are padded to an even size; the pad byte is not counted in the size.
            let next = body + size + (size & 1)
            guard next > offset else { break }
            offset = next
        }
        throw fail(format == nil ? .missingFormatChunk : .missingDataChunk)
    }

    /// The file contents: a canonical 44-byte header (RIFF, `fmt ` PCM, `data`) and the samples.
    public func serialized() -> [UInt8] {
        let dataSize = samples.count * 2
        var out: [UInt8] = []
        out.reserveCapacity(44 + dataSize + 1)
        func u16(_ v: Int) { out.append(UInt8(truncatingIfNeeded: v)); out.append(UInt8(truncatingIfNeeded: v >> 8)) }
        func u32(_ v: Int) { u16(v & 0xFFFF); u16((v >> 16) & 0xFFFF) }
        func tag(_ s: String) { out.append(contentsOf: Array(s.utf8)) }
        tag("RIFF"); u32(36 + dataSize); tag("WAVE")
        tag("fmt "); u32(16)
        u16(1); u16(channels); u32(sampleRate); u32(sampleRate * channels * 2); u16(channels * 2); u16(16)
        tag("data"); u32(dataSize)
        for s in samples { u16(Int(UInt16(bitPattern: s))) }
        return out
    }

    /// Writes the file (replacing any existing file).
    public func write(to path: String) throws(WAVError) {
        let ok = FileManager.default.createFile(atPath: path, contents: Data(serialized()))
        guard ok else { throw WAVError(path: path, reason: .cannotWrite) }
    }
}
