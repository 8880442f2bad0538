// Crash repair: a recording whose daemon died (kill -9) is made playable at the next start.

import Foundation
import XCTest

@testable import Recording

final class RecordingRepairTests: XCTestCase {
    /// What a crash leaves: copies the live audio file and its partial sidecar into
    /// `directory` (as `kill -9` would leave them: no close, no final metadata).
    private func snapshot(_ recorder: CallRecorder, into directory: String) throws -> String {
        let name = (recorder.path as NSString).lastPathComponent
        let copy = "\(directory)/\(name)"
        try FileManager.default.copyItem(atPath: recorder.path, toPath: copy)
        try FileManager.default.copyItem(
            atPath: SidecarJSON.partialPath(forAudio: recorder.path), toPath: SidecarJSON.partialPath(forAudio: copy))
        return copy
    }

    private func patch(_ path: String, at offset: UInt64, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data(bytes))
    }

    private func appendBytes(_ path: String, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
    }

    private func truncate(_ path: String, removing count: Int) throws -> Int64 {
        let size = try XCTUnwrap(FileSystem.fileSize(path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: UInt64(size) - UInt64(count))
        return size - Int64(count)
    }

    private func assertRepairedSidecars(_ metadata: RecordingMetadata, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertTrue(metadata.repaired, file: file, line: line)
        XCTAssertFalse(metadata.complete, file: file, line: line)
        XCTAssertEqual(metadata.sha256, try sha256Hex(ofFile: metadata.path), file: file, line: line)
        XCTAssertEqual(try RecordingMetadata.read(contentsOf: SidecarJSON.finalPath(forAudio: metadata.path)), metadata, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: SidecarJSON.partialPath(forAudio: metadata.path)), file: file, line: line)
    }

    // MARK: WAV

    func testWAVWithZeroedHeaderSizesAndATornFrame() async throws {
        let live = try makeTemporaryDirectory(self)
        let crashed = try makeTemporaryDirectory(self)
        let started = Date(timeIntervalSince1970: 1_735_812_672.5)
        let recorder = try CallRecorder(
            callID: "crash-wav", settings: RecordingSettings(directory: live, format: .wav, sampleRate: 8000),
            startedAt: started, logger: quietLogger)
        var frame = feed(recorder, seconds: 1, sampleRate: 8000)
        recorder.pause()
        frame = feed(recorder, seconds: 0.5, sampleRate: 8000, startFrame: frame)
        await recorder.flushForTesting()
        let copy = try snapshot(recorder, into: crashed)

        // As if the header had never been updated, plus half a frame the crash cut.
        try patch(copy, at: 4, [0, 0, 0, 0])
        try patch(copy, at: 40, [0, 0, 0, 0])
        try appendBytes(copy, [1, 2, 3])

        let repaired = RecordingRepair.repairInterrupted(in: crashed, logger: quietLogger)
        XCTAssertEqual(repaired.count, 1)
        let metadata = try XCTUnwrap(repaired.first)
        try assertRepairedSidecars(metadata)
        XCTAssertEqual(metadata.path, copy)
        XCTAssertEqual(metadata.callID, "crash-wav")
        XCTAssertEqual(metadata.startedAt, started)
        XCTAssertEqual(metadata.format, .wav)
        XCTAssertEqual(metadata.sampleRate, 8000)
        XCTAssertEqual(metadata.durationSeconds, 1.5)
        XCTAssertEqual(metadata.pauses, [RecordingPause(startSeconds: 1.0, endSeconds: 1.5)])
        XCTAssertTrue(try XCTUnwrap(metadata.failure).contains("interrupted"))

        let audio = try decode(copy)
        XCTAssertEqual(audio.announcedFrames, 12000)
        XCTAssertEqual(audio.left, tone(frequency: leftHz, sampleRate: 8000, startFrame: 0, count: 8000) + Array(repeating: 0, count: 4000))
        XCTAssertEqual(audio.right, tone(frequency: rightHz, sampleRate: 8000, startFrame: 0, count: 8000) + Array(repeating: 0, count: 4000))
        XCTAssertEqual(FileSystem.fileSize(copy), 44 + 12000 * 4)

        // Running the repair again finds nothing to do.
        XCTAssertEqual(RecordingRepair.repairInterrupted(in: crashed, logger: quietLogger), [])

        // The live recording was not disturbed.
        recorder.resume()
        feed(recorder, seconds: 0.5, sampleRate: 8000, startFrame: frame)
        let finished = await recorder.finish()
        XCTAssertTrue(finished.complete)
        XCTAssertEqual(finished.durationSeconds, 2.0)
    }

    func testWAVWithDestroyedHeaderIsRebuiltFromTheSidecar() async throws {
        let live = try makeTemporaryDirectory(self)
        let crashed = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "no-header", settings: RecordingSettings(directory: live, format: .wav, sampleRate: 16000),
            startedAt: Date(), logger: quietLogger)
        feed(recorder, seconds: 1, sampleRate: 16000)
        await recorder.flushForTesting()
        let copy = try snapshot(recorder, into: crashed)
        try patch(copy, at: 0, [UInt8](repeating: 0, count: 44))

        let metadata = try XCTUnwrap(RecordingRepair.repairInterrupted(in: crashed, logger: quietLogger).first)
        try assertRepairedSidecars(metadata)
        XCTAssertEqual(metadata.durationSeconds, 1.0)
        let audio = try decode(copy)
        XCTAssertEqual(audio.sampleRate, 16000)
        XCTAssertEqual(audio.frames, 16000)
        assertDominantFrequency(audio.right, expected: rightHz, other: leftHz, sampleRate: 16000, ratio: 1000, "right")
        _ = await recorder.finish()
    }

    // MARK: Ogg/Opus

    func testOggOpusWithATornLastPage() async throws {
        let live = try makeTemporaryDirectory(self)
        let crashed = try makeTemporaryDirectory(self)
        let intact = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "crash-opus", settings: RecordingSettings(directory: live, format: .oggOpus, sampleRate: 16000),
            startedAt: Date(), logger: quietLogger)
        feed(recorder, seconds: 3, sampleRate: 16000)
        await recorder.flushForTesting()
        let whole = try snapshot(recorder, into: intact)
        let torn = try snapshot(recorder, into: crashed)
        let tornSize = try truncate(torn, removing: 50)

        let metadata = try XCTUnwrap(RecordingRepair.repairInterrupted(in: crashed, logger: quietLogger).first)
        try assertRepairedSidecars(metadata)
        XCTAssertEqual(metadata.format, .oggOpus)
        XCTAssertLessThan(try XCTUnwrap(FileSystem.fileSize(torn)), tornSize, "the torn page was not cut")
        let fd = open(torn, O_RDWR)
        defer { close(fd) }
        XCTAssertEqual(try OggRepair.repair(fd: fd, path: torn).truncatedBytes, 0, "the file does not end on a page boundary")
        let audio = try decode(torn)
        XCTAssertEqual(audio.durationSeconds, metadata.durationSeconds, accuracy: 0.001)
        // Pages close every quarter flush interval; the torn one is lost as well.
        XCTAssertGreaterThan(metadata.durationSeconds, 2.2)
        XCTAssertLessThan(metadata.durationSeconds, 3.0)
        let middle = 8000..<24000
        assertDominantFrequency(audio.left, range: middle, expected: leftHz, other: rightHz, sampleRate: 16000, ratio: 50, "left")
        assertDominantFrequency(audio.right, range: middle, expected: rightHz, other: leftHz, sampleRate: 16000, ratio: 50, "right")

        // The untorn snapshot keeps its length and at least as much audio.
        let wholeSize = try XCTUnwrap(FileSystem.fileSize(whole))
        let intactMetadata = try XCTUnwrap(RecordingRepair.repairInterrupted(in: intact, logger: quietLogger).first)
        XCTAssertEqual(FileSystem.fileSize(whole), wholeSize)
        XCTAssertGreaterThan(intactMetadata.durationSeconds, metadata.durationSeconds)
        XCTAssertGreaterThan(intactMetadata.durationSeconds, 2.7)

        let finished = await recorder.finish()
        XCTAssertTrue(finished.complete)
        XCTAssertEqual(finished.durationSeconds, 3.0, accuracy: 0.04)
    }

    func testOggOpusInterruptedBeforeAnyAudio() async throws {
        let live = try makeTemporaryDirectory(self)
        let crashed = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "early", settings: RecordingSettings(directory: live, format: .oggOpus, sampleRate: 8000),
            startedAt: Date(), logger: quietLogger)
        let copy = try snapshot(recorder, into: crashed)

        let metadata = try XCTUnwrap(RecordingRepair.repairInterrupted(in: crashed, logger: quietLogger).first)
        try assertRepairedSidecars(metadata)
        XCTAssertEqual(metadata.durationSeconds, 0)
        XCTAssertEqual(
            metadata.failure,
            RecordingError.repairFailed(path: copy, reason: "no audio was flushed before the interruption").description)
        _ = await recorder.finish()
    }

    // MARK: Bookkeeping

    func testLiveRecordingsAreLeftAlone() async throws {
        let directory = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "live", settings: RecordingSettings(directory: directory, format: .wav, sampleRate: 8000),
            startedAt: Date(), logger: quietLogger)
        feed(recorder, seconds: 0.5, sampleRate: 8000)
        await recorder.flushForTesting()

        XCTAssertEqual(RecordingRepair.repairInterrupted(in: directory, logger: quietLogger), [])
        XCTAssertTrue(FileManager.default.fileExists(atPath: SidecarJSON.partialPath(forAudio: recorder.path)))
        let metadata = await recorder.finish()
        XCTAssertTrue(metadata.complete)
        XCTAssertEqual(metadata.durationSeconds, 0.5)
    }

    func testFinishedRecordingWhosePartialSidecarSurvivedKeepsItsMetadata() async throws {
        let directory = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "almost", settings: RecordingSettings(directory: directory, format: .wav, sampleRate: 8000),
            startedAt: Date(), logger: quietLogger)
        let partialPath = SidecarJSON.partialPath(forAudio: recorder.path)
        let partial = try Data(contentsOf: URL(fileURLWithPath: partialPath))
        feed(recorder, seconds: 0.5, sampleRate: 8000)
        let finished = await recorder.finish()
        // A crash between writing "<file>.json" and removing the partial sidecar.
        try partial.write(to: URL(fileURLWithPath: partialPath))

        XCTAssertEqual(RecordingRepair.repairInterrupted(in: directory, logger: quietLogger), [finished])
        XCTAssertFalse(FileManager.default.fileExists(atPath: partialPath))
        XCTAssertEqual(try RecordingMetadata.read(contentsOf: SidecarJSON.finalPath(forAudio: finished.path)), finished)
    }

    func testMissingAudioFileIsReported() async throws {
        let live = try makeTemporaryDirectory(self)
        let crashed = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "lost", settings: RecordingSettings(directory: live, format: .wav, sampleRate: 8000),
            startedAt: Date(), logger: quietLogger)
        let copy = "\(crashed)/\((recorder.path as NSString).lastPathComponent)"
        try FileManager.default.copyItem(
            atPath: SidecarJSON.partialPath(forAudio: recorder.path), toPath: SidecarJSON.partialPath(forAudio: copy))

        let metadata = try XCTUnwrap(RecordingRepair.repairInterrupted(in: crashed, logger: quietLogger).first)
        XCTAssertTrue(metadata.repaired)
        XCTAssertFalse(metadata.complete)
        XCTAssertEqual(metadata.durationSeconds, 0)
        XCTAssertEqual(metadata.sha256, "")
        XCTAssertTrue(try XCTUnwrap(metadata.failure).contains("cannot open the audio file"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: SidecarJSON.partialPath(forAudio: copy)))
        _ = await recorder.finish()
    }

    func testOggCRC() {
        // Check value of CRC-32 with polynomial 0x04C11DB7, initial value 0, no reflection and
        // no final XOR (CRC-32/POSIX before its final inversion: 0x765E7680 ^ 0xFFFFFFFF).
        XCTAssertEqual(OggRepair.crc(Array("123456789".utf8)), 0x89A1_897F)
    }
}
