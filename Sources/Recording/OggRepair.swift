// Cuts a torn last page off an Ogg stream that a crash interrupted.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Ogg pages (RFC 3533) are self-delimiting and carry a CRC, so an interrupted Ogg/Opus
/// recording is playable up to its last whole page; only a page torn by the crash has to go
/// (libsndfile refuses a file that ends in one).
enum OggRepair {
    struct Outcome: Equatable {
        /// Whole, CRC-valid pages kept.
        var pages: Int
        /// Bytes cut from the end (a torn page).
        var truncatedBytes: Int64
    }

    /// Fixed part of a page header, before the segment table.
    static let headerLength = 27

    static func repair(fd: Int32, path: String) throws(RecordingError) -> Outcome {
        let fileSize = try WAVRepair.size(of: fd, path: path)
        var offset: Int64 = 0
        var pages = 0
        while offset < fileSize {
            guard let length = try pageLength(fd: fd, path: path, at: offset, fileSize: fileSize) else { break }
            offset += length
            pages += 1
        }
        guard offset < fileSize else {
            return Outcome(pages: pages, truncatedBytes: 0)
        }
        // A crash tears only the end. A valid page further on means damage in the middle:
        // leave the file alone, Ogg readers resynchronise on their own.
        if try hasValidPage(fd: fd, path: path, after: offset, fileSize: fileSize) {
            return Outcome(pages: pages, truncatedBytes: 0)
        }
        if ftruncate(fd, off_t(offset)) != 0 {
            throw .repairFailed(path: path, reason: "cannot cut the torn last page: \(FileSystem.describe(errno: errno))")
        }
        if fsync(fd) != 0 {
            throw .syncFailed(path: path, reason: FileSystem.describe(errno: errno))
        }
        return Outcome(pages: pages, truncatedBytes: fileSize - offset)
    }

    /// The length of the page at `offset` if a whole page with a valid CRC starts there.
    static func pageLength(fd: Int32, path: String, at offset: Int64, fileSize: Int64) throws(RecordingError) -> Int64? {
        guard fileSize - offset >= Int64(headerLength) else { return nil }
        let header = try WAVRepair.readBytes(fd: fd, path: path, at: offset, count: headerLength)
        guard header.count == headerLength, header[0..<4].elementsEqual("OggS".utf8), header[4] == 0 else {
            return nil
        }
        let segmentCount = Int(header[26])
        let table = try WAVRepair.readBytes(fd: fd, path: path, at: offset + Int64(headerLength), count: segmentCount)
        guard table.count == segmentCount else { return nil }
        let bodyLength = table.reduce(0) { $0 + Int($1) }
        let length = headerLength + segmentCount + bodyLength
        guard offset + Int64(length) <= fileSize else { return nil }
        var page = try WAVRepair.readBytes(fd: fd, path: path, at: offset, count: length)
        guard page.count == length else { return nil }
        let stored = UInt32(page[22]) | UInt32(page[23]) << 8 | UInt32(page[24]) << 16 | UInt32(page[25]) << 24
        page[22] = 0
        page[23] = 0
        page[24] = 0
        page[25] = 0
        return crc(page) == stored ? Int64(length) : nil
    }

    /// Whether a valid page starts anywhere after `offset`.
    private static func hasValidPage(fd: Int32, path: String, after offset: Int64, fileSize: Int64) throws(RecordingError) -> Bool {
        let chunk = 64 * 1024
        var position = offset + 1
        while position + Int64(headerLength) <= fileSize {
            let bytes = try WAVRepair.readBytes(fd: fd, path: path, at: position, count: chunk + 3)
            guard bytes.count >= 4 else { return false }
            for index in 0...(bytes.count - 4)
            where bytes[index] == 0x4F && bytes[index + 1] == 0x67 && bytes[index + 2] == 0x67 && bytes[index + 3] == 0x53 {
                if try pageLength(fd: fd, path: path, at: position + Int64(index), fileSize: fileSize) != nil {
                    return true
                }
            }
            position += Int64(chunk)
        }
        return false
    }

    /// The Ogg CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0, no final XOR.
    static func crc(_ bytes: [UInt8]) -> UInt32 {
        var value: UInt32 = 0
        for byte in bytes {
            value = (value << 8) ^ crcTable[Int(UInt8(value >> 24) ^ byte)]
        }
        return value
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index) << 24
        for _ in 0..<8 {
            value = value & 0x8000_0000 != 0 ? (value << 1) ^ 0x04C1_1DB7 : value << 1
        }
        return value
    }
}
