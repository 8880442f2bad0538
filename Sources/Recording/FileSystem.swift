// Small POSIX helpers: folders, durable atomic writes, streaming SHA-256, advisory locks.
//
// Plain POSIX calls are used (rather than FileManager) where the errno matters for the error
// message or where durability needs fsync.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import Foundation

enum FileSystem {
    /// Permissions of recording folders and files: recordings are personal data.
    static let directoryMode: mode_t = 0o750
    static let fileMode: mode_t = 0o640

    /// "No space left on device (errno 28)".
    static func describe(errno code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }

    /// Creates `path` and any missing parents (like `mkdir -p`), reporting the first
    /// component that fails.
    static func createDirectories(_ path: String) throws(RecordingError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            if mkdir(current, directoryMode) == 0 {
                continue
            }
            let code = errno
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: current, isDirectory: &isDirectory) {
                if isDirectory.boolValue { continue }
                throw .cannotCreateDirectory(path: current, reason: "exists and is not a directory")
            }
            throw .cannotCreateDirectory(path: current, reason: describe(errno: code))
        }
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR. Returns errno on failure.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }

    /// Writes `data` to `path` so that after a crash the file holds either its old or its new
    /// content: temporary file, fsync, rename, fsync of the folder.
    static func writeAtomically(_ data: Data, to path: String) throws(RecordingError) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, fileMode)
        guard fd >= 0 else {
            throw .cannotWriteMetadata(path: path, reason: describe(errno: errno))
        }
        var failure = data.withUnsafeBytes { writeAll(fd, $0) }
        if failure == nil, fsync(fd) != 0 {
            failure = errno
        }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 {
            failure = errno
        }
        if let failure {
            unlink(temporary)
            throw .cannotWriteMetadata(path: path, reason: describe(errno: failure))
        }
        syncDirectory(containing: path)
    }

    /// Removes a file; a file that is already gone is fine.
    static func remove(_ path: String) throws(RecordingError) {
        if unlink(path) != 0, errno != ENOENT {
            throw .cannotWriteMetadata(path: path, reason: "cannot remove: \(describe(errno: errno))")
        }
    }

    /// Makes a folder's entries (new, renamed, removed files) durable. Best effort: some file
    /// systems refuse fsync on folders, which then has nothing more to do.
    static func syncDirectory(containing path: String) {
        let folder = (path as NSString).deletingLastPathComponent
        let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Size of a file in bytes.
    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// fsyncs the file at `path`, then reads it once to compute its SHA-256 (lower-case hex).
    /// Memory use is one fixed buffer whatever the file size.
    static func syncAndHash(_ path: String) throws(RecordingError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .cannotHash(path: path, reason: describe(errno: errno))
        }
        defer { close(fd) }
        if fsync(fd) != 0 {
            throw .syncFailed(path: path, reason: describe(errno: errno))
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw .cannotHash(path: path, reason: describe(errno: errno))
            }
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return hexString(hasher.finalize())
    }

    static func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Tries to take an exclusive advisory lock without waiting. The recorder holds one on
    /// each audio file it writes, so the repair can tell a live recording from a crashed one
    /// (the kernel drops the lock when the process dies).
    static func tryLockExclusive(_ fd: Int32) -> Bool {
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
            if errno == EINTR { continue }
            return false
        }
    }
}
