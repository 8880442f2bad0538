// Makes a WAV file cut short by a crash describe the audio it holds.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Rewrites the RIFF and `data` chunk sizes of an interrupted WAV recording from the file
/// length. The sizes in the header may be stale (last checkpoint), zero (never updated) or
/// garbage; the chunk layout itself is found by walking the chunks, or, if the header is
/// destroyed, taken from the data offset the recorder noted in its sidecar.
enum WAVRepair {
    /// How far into the file chunk headers are looked for. libsndfile writes a 44-byte
    /// header for 16-bit PCM.
    static let headerWindow = 4096
    /// Length of the canonical RIFF/WAVE header: RIFF, `fmt ` (16 bytes), `data`.
    static let canonicalHeaderLength: Int64 = 44

    struct Outcome: Equatable {
        /// Whole frames now in the data chunk.
        var frames: Int64
        /// The header was rebuilt from the sidecar because it was unreadable.
        var rebuiltHeader: Bool
        /// Bytes cut from the end (a torn last frame).
        var truncatedBytes: Int64
    }

    /// Repairs the WAV file open read-write on `fd`. `sampleRate` and `channels` come from the
    /// sidecar (a sample rate of 0 means unknown); `dataOffsetHint` is the header length the
    /// recorder noted when it created the file.
    static func repair(
        fd: Int32, path: String, sampleRate: Int, channels: Int, dataOffsetHint: Int64?
    ) throws(RecordingError) -> Outcome {
        let fileSize = try size(of: fd, path: path)
        let header = try readPrefix(fd: fd, path: path, count: Int(min(fileSize, Int64(headerWindow))))
        let blockAlign = Int64(channels * 2)

        var dataOffset: Int64
        var rebuild = false
        if let layout = locateData(in: header),
            layout.format.isPCM16, layout.format.channels == channels,
            sampleRate == 0 || layout.format.sampleRate == sampleRate
        {
            dataOffset = layout.dataOffset
        } else if dataOffsetHint == canonicalHeaderLength, sampleRate > 0 {
            dataOffset = canonicalHeaderLength
            rebuild = true
        } else {
            throw .repairFailed(path: path, reason: "no usable RIFF/WAVE header and no known header layout to rebuild it")
        }

        let dataBytes = max(0, fileSize - dataOffset) / blockAlign * blockAlign
        let newSize = dataOffset + dataBytes
        guard newSize - 8 <= Int64(UInt32.max) else {
            throw .repairFailed(path: path, reason: "audio longer than a WAV file can describe (4 GiB)")
        }
        if newSize != fileSize, ftruncate(fd, off_t(newSize)) != 0 {
            throw .repairFailed(path: path, reason: "cannot truncate to whole frames: \(FileSystem.describe(errno: errno))")
        }

        if rebuild {
            let bytes = canonicalHeader(sampleRate: sampleRate, channels: channels, dataBytes: UInt32(dataBytes))
            try writeBytes(bytes, at: 0, fd: fd, path: path)
        } else {
            try writeBytes(littleEndian(UInt32(newSize - 8)), at: 4, fd: fd, path: path)
            try writeBytes(littleEndian(UInt32(dataBytes)), at: dataOffset - 4, fd: fd, path: path)
        }
        if fsync(fd) != 0 {
            throw .syncFailed(path: path, reason: FileSystem.describe(errno: errno))
        }
        return Outcome(frames: dataBytes / blockAlign, rebuiltHeader: rebuild, truncatedBytes: fileSize - newSize)
    }

    struct FormatChunk: Equatable {
        var formatTag: UInt16
        var channels: Int
        var sampleRate: Int
        var bitsPerSample: Int

        /// Linear PCM (plain or WAVE_FORMAT_EXTENSIBLE) with 16 bits per sample.
        var isPCM16: Bool {
            (formatTag == 1 || formatTag == 0xFFFE) && bitsPerSample == 16
        }
    }

    /// Walks the chunks of a RIFF/WAVE header to the `data` chunk. The size of the `data`
    /// chunk (and of RIFF) is ignored: that is what is being repaired.
    static func locateData(in header: [UInt8]) -> (format: FormatChunk, dataOffset: Int64)? {
        guard header.count >= 12, header[0..<4].elementsEqual("RIFF".utf8),
            header[8..<12].elementsEqual("WAVE".utf8)
        else { return nil }
        var format: FormatChunk?
        var position = 12
        while position + 8 <= header.count {
            let id = header[position..<(position + 4)]
            let size = Int(readUInt32(header, at: position + 4))
            let body = position + 8
            if id.elementsEqual("data".utf8) {
                guard let format else { return nil }
                return (format, Int64(body))
            }
            if id.elementsEqual("fmt ".utf8) {
                guard size >= 16, body + 16 <= header.count else { return nil }
                format = FormatChunk(
                    formatTag: UInt16(header[body]) | UInt16(header[body + 1]) << 8,
                    channels: Int(UInt16(header[body + 2]) | UInt16(header[body + 3]) << 8),
                    sampleRate: Int(readUInt32(header, at: body + 4)),
                    bitsPerSample: Int(UInt16(header[body + 14]) | UInt16(header[body + 15]) << 8))
            }
            // Chunks are padded to even sizes. A size running past the window is garbage.
            let next = body + size + (size & 1)
            guard size < headerWindow, next > position else { return nil }
            position = next
        }
        return nil
    }

    /// The 44-byte header of 16-bit PCM.
    static func canonicalHeader(sampleRate: Int, channels: Int, dataBytes: UInt32) -> [UInt8] {
        let blockAlign = UInt16(channels * 2)
        var bytes = Array("RIFF".utf8) + littleEndian(dataBytes &+ 36) + Array("WAVE".utf8)
        bytes += Array("fmt ".utf8) + littleEndian(UInt32(16))
        bytes += littleEndian(UInt16(1)) + littleEndian(UInt16(channels))
        bytes += littleEndian(UInt32(sampleRate)) + littleEndian(UInt32(sampleRate) * UInt32(blockAlign))
        bytes += littleEndian(blockAlign) + littleEndian(UInt16(16))
        bytes += Array("data".utf8) + littleEndian(dataBytes)
        return bytes
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
    }

    private static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func size(of fd: Int32, path: String) throws(RecordingError) -> Int64 {
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw .repairFailed(path: path, reason: FileSystem.describe(errno: errno))
        }
        return Int64(status.st_size)
    }

    static func readPrefix(fd: Int32, path: String, count: Int) throws(RecordingError) -> [UInt8] {
        try readBytes(fd: fd, path: path, at: 0, count: count)
    }

    /// Reads up to `count` bytes at `offset` (fewer at the end of the file).
    static func readBytes(fd: Int32, path: String, at offset: Int64, count: Int) throws(RecordingError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw .repairFailed(path: path, reason: "read: \(FileSystem.describe(errno: errno))")
            }
            if got == 0 { break }
            filled += got
        }
        return Array(bytes[0..<filled])
    }

    static func writeBytes(_ bytes: [UInt8], at offset: Int64, fd: Int32, path: String) throws(RecordingError) {
        var done = 0
        while done < bytes.count {
            let wrote = bytes.withUnsafeBytes { buffer in
                pwrite(fd, buffer.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
            if wrote < 0 {
                if errno == EINTR { continue }
                throw .repairFailed(path: path, reason: "write: \(FileSystem.describe(errno: errno))")
            }
            done += wrote
        }
    }
}
