// Failures: unwritable folders at creation, write errors and a slow disk afterwards.

import Dispatch
import Foundation
import XCTest

@testable import Recording

#if canImport(Glibc)
import Glibc
#endif

/// Wraps the real file and fails every write once `failAfterFrames` frames are in it.
private final class FailingSink: AudioFileSink {
    let inner: any AudioFileSink
    let failAfterFrames: Int64
    static let message = "injected: No space left on device"

    init(_ inner: any AudioFileSink, failAfterFrames: Int64) {
        self.inner = inner
        self.failAfterFrames = failAfterFrames
    }

    var path: String { inner.path }
    var framesWritten: Int64 { inner.framesWritten }

    func write(_ interleaved: UnsafeBufferPointer<Int16>) throws(RecordingError) {
        if inner.framesWritten + Int64(interleaved.count / 2) > failAfterFrames {
            throw .writeFailed(path: path, message: Self.message)
        }
        try inner.write(interleaved)
    }

    func checkpoint() throws(RecordingError) { try inner.checkpoint() }
    func sync() throws(RecordingError) { try inner.sync() }
    func close() throws(RecordingError) { try inner.close() }
}

/// Wraps the real file and holds every write until `gate` is signalled once: a stalled disk.
private final class StalledSink: AudioFileSink {
    let inner: any AudioFileSink
    let gate: DispatchSemaphore

    init(_ inner: any AudioFileSink, gate: DispatchSemaphore) {
        self.inner = inner
        self.gate = gate
    }

    var path: String { inner.path }
    var framesWritten: Int64 { inner.framesWritten }

    func write(_ interleaved: UnsafeBufferPointer<Int16>) throws(RecordingError) {
        gate.wait()
        gate.signal()
        try inner.write(interleaved)
    }

    func checkpoint() throws(RecordingError) { try inner.checkpoint() }
    func sync() throws(RecordingError) { try inner.sync() }
    func close() throws(RecordingError) { try inner.close() }
}

final class RecordingFailureTests: XCTestCase {
    // MARK: At creation

    func testDirectoryBelowARegularFileThrowsAClearError() throws {
        let directory = try makeTemporaryDirectory(self)
        let file = "\(directory)/file.txt"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let settings = RecordingSettings(directory: "\(file)/sub", format: .wav, sampleRate: 8000)

        XCTAssertThrowsError(try CallRecorder(callID: "c", settings: settings, startedAt: Date(), logger: quietLogger)) { error in
            guard case .cannotCreateDirectory(let path, let reason) = error as? RecordingError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(path, file)
            XCTAssertEqual(reason, "exists and is not a directory")
            XCTAssertTrue("\(error)".contains(file), "\(error)")
        }
    }

    func testInjectedWriteErrorMarksIncompleteAndKeepsWhatWasWritten() async throws {
        let directory = try makeTemporaryDirectory(self)
        let settings = RecordingSettings(directory: directory, format: .wav, sampleRate: 8000, flushInterval: .milliseconds(250))
        let recorder = try CallRecorder(
            callID: "disk-full", settings: settings, startedAt: Date(), logger: quietLogger,
            wrapSink: { FailingSink($0, failAfterFrames: 4000) })

        feed(recorder, seconds: 1, sampleRate: 8000)
        await recorder.flushForTesting()
        XCTAssertTrue(recorder.isIncomplete)
        // The call goes on: more audio, a pause, nothing breaks.
        feed(recorder, seconds: 1, sampleRate: 8000, startFrame: 8000)
        recorder.pause()
        recorder.resume()

        let metadata = await recorder.finish()
        XCTAssertFalse(metadata.complete)
        XCTAssertEqual(
            metadata.failure,
            RecordingError.writeFailed(path: recorder.path, message: FailingSink.message).description)
        XCTAssertEqual(metadata.durationSeconds, 0.5)  // two 250 ms batches made it
        XCTAssertEqual(metadata.sha256, try sha256Hex(ofFile: metadata.path))
        let audio = try decode(metadata.path)
        XCTAssertEqual(audio.frames, 4000)
        XCTAssertEqual(try RecordingMetadata.read(contentsOf: SidecarJSON.finalPath(forAudio: metadata.path)), metadata)
        XCTAssertFalse(FileManager.default.fileExists(atPath: SidecarJSON.partialPath(forAudio: metadata.path)))
    }

    /// A real write error from the kernel through libsndfile: the file size limit
    /// (RLIMIT_FSIZE) makes write(2) fail with EFBIG, as a full disk fails with ENOSPC.
    func testFileSystemWriteErrorMarksIncomplete() async throws {
        let directory = try makeTemporaryDirectory(self)
        let settings = RecordingSettings(directory: directory, format: .wav, sampleRate: 8000, flushInterval: .milliseconds(200))
        let recorder = try CallRecorder(callID: "efbig", settings: settings, startedAt: Date(), logger: quietLogger)

        var saved = rlimit()
        XCTAssertEqual(getrlimit(RLIMIT_FSIZE_RESOURCE, &saved), 0)
        var limited = saved
        limited.rlim_cur = 64 * 1024  // 2 s of 8 kHz stereo
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        XCTAssertEqual(setrlimit(RLIMIT_FSIZE_RESOURCE, &limited), 0)
        feed(recorder, seconds: 3, sampleRate: 8000)
        await recorder.flushForTesting()
        XCTAssertEqual(setrlimit(RLIMIT_FSIZE_RESOURCE, &saved), 0)
        signal(SIGXFSZ, previousHandler)

        XCTAssertTrue(recorder.isIncomplete)
        let metadata = await recorder.finish()
        XCTAssertFalse(metadata.complete)
        let failure = try XCTUnwrap(metadata.failure)
        XCTAssertTrue(failure.contains("writing recording"), failure)
        XCTAssertLessThan(metadata.durationSeconds, 2.05)
        XCTAssertGreaterThan(metadata.durationSeconds, 1.5)
        let audio = try decode(metadata.path)
        XCTAssertEqual(Double(audio.frames) / 8000, metadata.durationSeconds, accuracy: 0.001)
        XCTAssertEqual(metadata.sha256, try sha256Hex(ofFile: metadata.path))
    }

    func testStalledWriterDropsAudioInsteadOfGrowing() async throws {
        let directory = try makeTemporaryDirectory(self)
        let settings = RecordingSettings(
            directory: directory, format: .wav, sampleRate: 8000,
            flushInterval: .milliseconds(100), maxBacklog: .milliseconds(500))
        let gate = DispatchSemaphore(value: 0)
        let recorder = try CallRecorder(
            callID: "slow-disk", settings: settings, startedAt: Date(), logger: quietLogger,
            wrapSink: { StalledSink($0, gate: gate) })

        // 2 s of audio against a disk that takes nothing: after 0.5 s queued (plus the batch
        // the writer is stuck on) the recorder gives up, synchronously on the call path.
        feed(recorder, seconds: 2, sampleRate: 8000)
        XCTAssertTrue(recorder.isIncomplete)

        gate.signal()
        let metadata = await recorder.finish()
        XCTAssertFalse(metadata.complete)
        XCTAssertEqual(metadata.failure, RecordingError.writerFellBehind(backlogSeconds: 0.5).description)
        // What was queued before the limit is in the file, in order.
        XCTAssertGreaterThanOrEqual(metadata.durationSeconds, 0.5)
        XCTAssertLessThanOrEqual(metadata.durationSeconds, 0.6)
        let audio = try decode(metadata.path)
        XCTAssertEqual(audio.left, tone(frequency: leftHz, sampleRate: 8000, startFrame: 0, count: audio.frames))
    }
}

#if canImport(Glibc)
private let RLIMIT_FSIZE_RESOURCE = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
#else
private let RLIMIT_FSIZE_RESOURCE = RLIMIT_FSIZE
#endif
