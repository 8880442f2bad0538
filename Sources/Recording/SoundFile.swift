// A thin Swift layer over libsndfile: the audio file a recorder writes, and opening a
// recording to check it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CSndFile

/// Where the recording writer puts interleaved stereo frames. An instance is used from one
/// thread at a time (the writer's queue); it is not Sendable.
protocol AudioFileSink: AnyObject {
    var path: String { get }
    /// Frames the file has accepted so far.
    var framesWritten: Int64 { get }
    /// Appends interleaved frames (`interleaved.count` is a multiple of the channel count).
    func write(_ interleaved: UnsafeBufferPointer<Int16>) throws(RecordingError)
    /// Makes everything written so far describe itself: for WAV, the RIFF and data chunk
    /// sizes in the header. Cheap; called after every batch.
    func checkpoint() throws(RecordingError)
    /// Forces written data to stable storage (fsync).
    func sync() throws(RecordingError)
    /// Finalises (WAV header, last Ogg page with end-of-stream) and closes. Further calls do nothing.
    func close() throws(RecordingError)
}

/// An audio file being written through libsndfile.
final class SoundFileWriter: AudioFileSink {
    let path: String
    let format: RecordingFormat
    let channels: Int
    /// Byte offset of the audio data, i.e. the length of the header libsndfile wrote when it
    /// opened the file; nil for Ogg, whose header pages are written with the first audio.
    let dataOffset: Int64?
    private(set) var framesWritten: Int64 = 0
    private var handle: OpaquePointer?
    /// The descriptor libsndfile writes to; owned by this object (it carries the lock that
    /// tells the repair the recording is alive).
    private let fd: Int32

    /// Opens an already created, empty file for writing. Takes ownership of `fd` (closed on
    /// failure too). `pageLatency` bounds how long Ogg/Opus audio stays in the encoder's
    /// open page before it is written out.
    init(
        fd: Int32, path: String, format: RecordingFormat, sampleRate: Int, channels: Int,
        pageLatency: Duration
    ) throws(RecordingError) {
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channels)
        info.format = format.sndfileFormat
        guard sf_format_check(&info) == Int32(SF_TRUE) else {
            closeDescriptor(fd)
            throw .cannotOpen(path: path, message: "libsndfile cannot write \(format.rawValue) at \(sampleRate) Hz with \(channels) channels")
        }
        // close_desc false: this class closes the descriptor itself. (On some failure paths
        // libsndfile would close it and on others not, which invites a double close.)
        guard let handle = sf_open_fd(fd, Int32(SFM_WRITE), &info, Int32(SF_FALSE)) else {
            let message = String(cString: sf_strerror(nil))
            closeDescriptor(fd)
            throw .cannotOpen(path: path, message: message)
        }
        self.handle = handle
        self.fd = fd
        self.path = path
        self.format = format
        self.channels = channels

        switch format {
        case .wav:
            var status = stat()
            dataOffset = fstat(fd, &status) == 0 ? Int64(status.st_size) : nil
        case .oggOpus:
            dataOffset = nil
            // libsndfile closes an Ogg page once it holds this much audio; a page still open
            // at a crash is lost, so keep it shorter than the flush interval.
            var milliseconds = min(max(pageLatency.seconds * 1000, 50), 1000)
            _ = sf_command(handle, Int32(SFC_SET_OGG_PAGE_LATENCY_MS), &milliseconds, Int32(MemoryLayout<Double>.size))
        }
    }

    deinit {
        if let handle {
            sf_close(handle)
            closeDescriptor(fd)
        }
    }

    func write(_ interleaved: UnsafeBufferPointer<Int16>) throws(RecordingError) {
        guard let handle else {
            throw .writeFailed(path: path, message: "file is already closed")
        }
        let frames = sf_count_t(interleaved.count / channels)
        guard frames > 0 else { return }
        let written = sf_writef_short(handle, interleaved.baseAddress, frames)
        if written > 0 {
            framesWritten += Int64(written)
        }
        if written != frames {
            throw .writeFailed(path: path, message: lastError(handle))
        }
    }

    func checkpoint() throws(RecordingError) {
        guard let handle, format == .wav else { return }
        // SFC_UPDATE_HEADER_NOW returns nothing useful; a failed header write shows in sf_error.
        _ = sf_command(handle, Int32(SFC_UPDATE_HEADER_NOW), nil, 0)
        if sf_error(handle) != Int32(SF_ERR_NO_ERROR) {
            throw .writeFailed(path: path, message: "header update: \(lastError(handle))")
        }
    }

    func sync() throws(RecordingError) {
        // fsync on the descriptor directly: sf_write_sync does the same but reports no error.
        guard handle != nil else { return }
        if fsync(fd) != 0 {
            throw .syncFailed(path: path, reason: FileSystem.describe(errno: errno))
        }
    }

    func close() throws(RecordingError) {
        guard let handle else { return }
        self.handle = nil
        let code = sf_close(handle)
        let closeErrno = closeDescriptor(fd) == 0 ? nil : errno
        if code != Int32(SF_ERR_NO_ERROR) {
            throw .closeFailed(path: path, message: String(cString: sf_error_number(code)))
        }
        if let closeErrno {
            throw .closeFailed(path: path, message: FileSystem.describe(errno: closeErrno))
        }
    }

    private func lastError(_ handle: OpaquePointer) -> String {
        String(cString: sf_strerror(handle))
    }
}

/// `close(2)`; a free function because `SoundFileWriter.close()` shadows it.
@discardableResult
private func closeDescriptor(_ fd: Int32) -> Int32 {
    close(fd)
}

/// What libsndfile reports about an existing audio file.
struct SoundFileInfo: Sendable, Equatable {
    var frames: Int64
    var sampleRate: Int
    var channels: Int
    /// `SF_FORMAT_*` major|minor.
    var format: Int32

    var durationSeconds: Double {
        sampleRate > 0 ? Double(frames) / Double(sampleRate) : 0
    }

    /// Opens `path` with libsndfile for reading and reports its format and length.
    static func read(_ path: String) throws(RecordingError) -> SoundFileInfo {
        var info = SF_INFO()
        guard let handle = sf_open(path, Int32(SFM_READ), &info) else {
            throw .cannotOpen(path: path, message: String(cString: sf_strerror(nil)))
        }
        sf_close(handle)
        return SoundFileInfo(
            frames: Int64(info.frames), sampleRate: Int(info.samplerate),
            channels: Int(info.channels), format: info.format)
    }
}
