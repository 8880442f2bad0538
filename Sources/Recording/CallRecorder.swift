// Records one call to a stereo file: the citizen on the left, the other party on the right.

import Dispatch
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Records one call.
///
/// The media engine calls `append(left:right:)` once per 20 ms tick from its event loop. That
/// call only interleaves the two frames into an in-memory batch under a lock; file I/O
/// (writing, WAV header updates, fsync, closing, hashing) happens on the recorder's own
/// serial queue. A full batch (one flush interval of audio) is handed over at once; a timer
/// hands over a partial batch once it has waited a flush interval, so the file on disk is
/// never much more than a flush interval behind the call.
///
/// After creation nothing fails into the call path: a write error or a writer that falls
/// more than `maxBacklog` behind marks the recording incomplete and drops later audio;
/// `finish()` still returns metadata, with `complete == false` and the reason.
///
/// Files: `<directory>/yyyy/MM/dd/<yyyyMMdd'T'HHmmss'Z'>_<call id>.<wav|opus>`, next to it
/// `<file>.partial.json` while recording and `<file>.json` once finished.
public final class CallRecorder: @unchecked Sendable {
    // @unchecked: all mutable state lives in `RecorderCore`, guarded by its lock or confined
    // to its writer queue.

    public let callID: String
    public let settings: RecordingSettings
    /// Absolute path of the audio file.
    public let path: String
    /// The start time as recorded (whole milliseconds).
    public let startedAt: Date
    private let core: RecorderCore

    /// Creates the audio file and its partial sidecar.
    ///
    /// This does blocking file-system work (folders, file creation, fsync of the sidecar), so
    /// call it where blocking is allowed, not on an event loop. If it throws, run the call
    /// unrecorded.
    public convenience init(
        callID: String, settings: RecordingSettings, startedAt: Date, logger: Logger
    ) throws(RecordingError) {
        try self.init(callID: callID, settings: settings, startedAt: startedAt, logger: logger, wrapSink: nil)
    }

    /// `wrapSink` lets tests put a fault-injecting layer around the real file.
    init(
        callID: String, settings: RecordingSettings, startedAt: Date, logger: Logger,
        wrapSink: ((any AudioFileSink) -> any AudioFileSink)?
    ) throws(RecordingError) {
        try settings.validate()
        // Whole milliseconds, so the time survives the JSON sidecar unchanged.
        let startedAt = SidecarJSON.wholeMilliseconds(startedAt)
        let root = RecordingFileName.absolute(settings.directory)
        let folder = RecordingFileName.dayFolder(root: root, date: startedAt, timeZone: settings.timeZone)
        try FileSystem.createDirectories(folder)

        let base = RecordingFileName.baseName(callID: callID, date: startedAt, timeZone: settings.timeZone)
        let (fd, path) = try Self.createFile(folder: folder, base: base, extension: settings.format.fileExtension)

        var logger = logger
        logger[metadataKey: "call-id"] = "\(callID)"
        logger[metadataKey: "recording"] = "\(path)"

        // Held until the file is closed (or the process dies): tells the repair this
        // recording is alive.
        _ = FileSystem.tryLockExclusive(fd)
        let writer: SoundFileWriter
        do {
            writer = try SoundFileWriter(
                fd: fd, path: path, format: settings.format, sampleRate: settings.sampleRate,
                channels: SampleBatch.channels, pageLatency: settings.flushInterval / 4)
        } catch {
            unlink(path)
            throw error
        }

        let sidecar = PartialSidecar(
            callID: callID, path: path, format: settings.format, sampleRate: settings.sampleRate,
            channels: SampleBatch.channels, startedAt: startedAt, dataOffset: writer.dataOffset,
            pauses: [], openPauseStartSeconds: nil)
        do {
            try SidecarJSON.write(sidecar, to: SidecarJSON.partialPath(forAudio: path))
        } catch {
            try? writer.close()
            unlink(path)
            throw error
        }

        self.callID = callID
        self.settings = settings
        self.path = path
        self.startedAt = startedAt
        self.core = RecorderCore(
            callID: callID, path: path, settings: settings, startedAt: startedAt,
            sink: wrapSink?(writer) ?? writer, sidecar: sidecar, logger: logger)
        logger.debug("recording started")
    }

    deinit {
        core.abandon()
    }

    /// Adds one tick of audio: `left` is the citizen, `right` the other party. Both should
    /// hold the same number of samples; a shorter one is padded with silence. While paused,
    /// silence is recorded instead. Never blocks on I/O and never fails; after a failure or
    /// `finish()` the audio is dropped.
    public func append(left: UnsafeBufferPointer<Int16>, right: UnsafeBufferPointer<Int16>) {
        core.append(left: left, right: right)
    }

    /// Starts a privacy pause: until `resume()`, both channels are recorded as silence, so the
    /// timeline stays true. The interval is kept in the metadata. Pausing twice does nothing.
    public func pause() {
        core.pause()
    }

    /// Ends a privacy pause. Resuming when not paused does nothing.
    public func resume() {
        core.resume()
    }

    public var isPaused: Bool {
        core.isPaused
    }

    /// True once something went wrong: audio is missing from the file.
    public var isIncomplete: Bool {
        core.isIncomplete
    }

    /// Writes what is left, closes the file, hashes it and writes `<file>.json` (removing the
    /// partial sidecar), all off the caller's thread. Later calls return the same metadata.
    public func finish() async -> RecordingMetadata {
        await withCheckedContinuation { continuation in
            core.finish(continuation)
        }
    }

    /// Test hook: returns once all audio appended so far is written and synced.
    func flushForTesting() async {
        await core.flushForTesting()
    }

    /// Creates `folder/base.ext`, or `base-2.ext`, ... if taken; never opens an existing
    /// file, so no recording is ever overwritten.
    private static func createFile(
        folder: String, base: String, extension ext: String
    ) throws(RecordingError) -> (Int32, String) {
        for attempt in 1...1000 {
            let name = attempt == 1 ? "\(base).\(ext)" : "\(base)-\(attempt).\(ext)"
            let path = "\(folder)/\(name)"
            let sidecars = [SidecarJSON.partialPath(forAudio: path), SidecarJSON.finalPath(forAudio: path)]
            if sidecars.contains(where: { FileManager.default.fileExists(atPath: $0) }) {
                continue
            }
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, FileSystem.fileMode)
            if fd >= 0 {
                return (fd, path)
            }
            let code = errno
            if code != EEXIST {
                throw .cannotCreateFile(path: path, reason: FileSystem.describe(errno: code))
            }
        }
        throw .cannotCreateFile(path: "\(folder)/\(base).\(ext)", reason: "1000 files with this name already exist")
    }
}
