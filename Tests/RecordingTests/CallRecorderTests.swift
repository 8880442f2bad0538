// End-to-end tests of CallRecorder: what ends up in the audio file and its sidecars.

import Foundation
import XCTest

@testable import Recording

final class CallRecorderTests: XCTestCase {
    private func settings(_ directory: String, _ format: RecordingFormat, _ rate: Int, flush: Duration = .seconds(1)) -> RecordingSettings {
        RecordingSettings(directory: directory, format: format, sampleRate: rate, flushInterval: flush)
    }

    // MARK: Audio content

    func testWAVStereoTonesAtBothRates() async throws {
        for rate in [8000, 16000] {
            let directory = try makeTemporaryDirectory(self)
            let recorder = try CallRecorder(
                callID: "wav-\(rate)", settings: settings(directory, .wav, rate), startedAt: Date(), logger: quietLogger)
            feed(recorder, seconds: 2, sampleRate: rate)
            let metadata = await recorder.finish()

            XCTAssertTrue(metadata.complete, "\(rate) Hz: \(metadata.failure ?? "")")
            XCTAssertNil(metadata.failure)
            XCTAssertFalse(metadata.repaired)
            XCTAssertEqual(metadata.format, .wav)
            XCTAssertEqual(metadata.sampleRate, rate)
            XCTAssertEqual(metadata.channels, 2)
            XCTAssertEqual(metadata.durationSeconds, 2.0)
            XCTAssertEqual(metadata.path, recorder.path)
            XCTAssertTrue(metadata.path.hasSuffix(".wav"))

            let audio = try decode(metadata.path)
            XCTAssertEqual(audio.sampleRate, rate)
            XCTAssertEqual(audio.channels, 2)
            XCTAssertEqual(audio.frames, 2 * rate)
            XCTAssertEqual(audio.announcedFrames, 2 * rate)
            // PCM is lossless: the samples are exactly what was fed.
            XCTAssertEqual(audio.left, tone(frequency: leftHz, sampleRate: rate, startFrame: 0, count: 2 * rate))
            XCTAssertEqual(audio.right, tone(frequency: rightHz, sampleRate: rate, startFrame: 0, count: 2 * rate))
            assertDominantFrequency(audio.left, expected: leftHz, other: rightHz, sampleRate: rate, ratio: 1000, "left \(rate)")
            assertDominantFrequency(audio.right, expected: rightHz, other: leftHz, sampleRate: rate, ratio: 1000, "right \(rate)")
        }
    }

    func testOggOpusStereoTonesSurviveTheCodec() async throws {
        for rate in [8000, 16000] {
            let directory = try makeTemporaryDirectory(self)
            let recorder = try CallRecorder(
                callID: "opus-\(rate)", settings: settings(directory, .oggOpus, rate), startedAt: Date(), logger: quietLogger)
            feed(recorder, seconds: 2, sampleRate: rate)
            let metadata = await recorder.finish()

            XCTAssertTrue(metadata.complete, "\(rate) Hz: \(metadata.failure ?? "")")
            XCTAssertEqual(metadata.format, .oggOpus)
            XCTAssertTrue(metadata.path.hasSuffix(".opus"))
            XCTAssertEqual(metadata.durationSeconds, 2.0, accuracy: 0.04)

            let audio = try decode(metadata.path)
            XCTAssertEqual(audio.sampleRate, rate)
            XCTAssertEqual(audio.channels, 2)
            XCTAssertEqual(audio.durationSeconds, 2.0, accuracy: 0.04)
            // Skip the encoder's start-up; look at the middle second.
            let middle = (rate / 2)..<(rate * 3 / 2)
            assertDominantFrequency(audio.left, range: middle, expected: leftHz, other: rightHz, sampleRate: rate, ratio: 50, "left \(rate)")
            assertDominantFrequency(audio.right, range: middle, expected: rightHz, other: leftHz, sampleRate: rate, ratio: 50, "right \(rate)")
        }
    }

    // MARK: Pauses

    func testPauseRecordsSilenceOnBothChannelsAndTheInterval() async throws {
        let rate = 8000
        let directory = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "pause", settings: settings(directory, .wav, rate), startedAt: Date(), logger: quietLogger)
        var frame = feed(recorder, seconds: 1, sampleRate: rate)
        recorder.pause()
        recorder.pause()  // a second pause changes nothing
        XCTAssertTrue(recorder.isPaused)
        frame = feed(recorder, seconds: 1, sampleRate: rate, startFrame: frame)

        // While paused, the partial sidecar already knows (for the crash repair).
        await recorder.flushForTesting()
        let partial = try readSidecar(PartialSidecar.self, SidecarJSON.partialPath(forAudio: recorder.path))
        XCTAssertEqual(partial.openPauseStartSeconds, 1.0)

        recorder.resume()
        XCTAssertFalse(recorder.isPaused)
        feed(recorder, seconds: 1, sampleRate: rate, startFrame: frame)
        let metadata = await recorder.finish()

        XCTAssertTrue(metadata.complete)
        XCTAssertEqual(metadata.durationSeconds, 3.0)
        XCTAssertEqual(metadata.pauses, [RecordingPause(startSeconds: 1.0, endSeconds: 2.0)])

        let audio = try decode(metadata.path)
        guard audio.frames == 3 * rate else {
            return XCTFail("\(audio.frames) frames, expected \(3 * rate)")
        }
        let paused = rate..<(2 * rate)
        XCTAssertTrue(audio.left[paused].allSatisfy { $0 == 0 }, "left channel not silent while paused")
        XCTAssertTrue(audio.right[paused].allSatisfy { $0 == 0 }, "right channel not silent while paused")
        assertDominantFrequency(audio.left, range: 0..<rate, expected: leftHz, other: rightHz, sampleRate: rate, ratio: 1000, "before pause")
        assertDominantFrequency(audio.right, range: (2 * rate)..<(3 * rate), expected: rightHz, other: leftHz, sampleRate: rate, ratio: 1000, "after pause")
    }

    func testPauseOpenAtFinishEndsAtTheEnd() async throws {
        let directory = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "pause-end", settings: settings(directory, .wav, 8000), startedAt: Date(), logger: quietLogger)
        feed(recorder, seconds: 0.5, sampleRate: 8000)
        recorder.pause()
        feed(recorder, seconds: 0.5, sampleRate: 8000, startFrame: 4000)
        let metadata = await recorder.finish()
        XCTAssertEqual(metadata.pauses, [RecordingPause(startSeconds: 0.5, endSeconds: 1.0)])
        XCTAssertEqual(metadata.durationSeconds, 1.0)
    }

    // MARK: Metadata and sidecars

    func testMetadataSidecarAndHash() async throws {
        let directory = try makeTemporaryDirectory(self)
        let started = Date(timeIntervalSince1970: 1_735_812_672.345_678)
        let recorder = try CallRecorder(
            callID: "hash-me", settings: settings(directory, .wav, 16000), startedAt: started, logger: quietLogger)
        let partialPath = SidecarJSON.partialPath(forAudio: recorder.path)
        let partial = try readSidecar(PartialSidecar.self, partialPath)
        XCTAssertEqual(partial.callID, "hash-me")
        XCTAssertEqual(partial.format, .wav)
        XCTAssertEqual(partial.sampleRate, 16000)
        XCTAssertEqual(partial.channels, 2)
        XCTAssertEqual(partial.dataOffset, 44)
        XCTAssertEqual(partial.startedAt.timeIntervalSince1970, 1_735_812_672.345, accuracy: 1e-6)

        feed(recorder, seconds: 1, sampleRate: 16000)
        let metadata = await recorder.finish()

        XCTAssertEqual(metadata.sha256.count, 64)
        XCTAssertEqual(metadata.sha256, try sha256Hex(ofFile: metadata.path))
        XCTAssertEqual(metadata.startedAt, partial.startedAt)
        XCTAssertEqual(metadata.callID, "hash-me")
        XCTAssertFalse(FileManager.default.fileExists(atPath: partialPath), "partial sidecar left behind")
        let stored = try RecordingMetadata.read(contentsOf: SidecarJSON.finalPath(forAudio: metadata.path))
        XCTAssertEqual(stored, metadata)
    }

    func testFinishIsIdempotentAndLaterAudioIsDropped() async throws {
        let directory = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "twice", settings: settings(directory, .oggOpus, 8000), startedAt: Date(), logger: quietLogger)
        feed(recorder, seconds: 0.5, sampleRate: 8000)
        async let first = recorder.finish()
        async let second = recorder.finish()
        let (a, b) = await (first, second)
        XCTAssertEqual(a, b)
        feed(recorder, seconds: 0.5, sampleRate: 8000)
        recorder.pause()
        let third = await recorder.finish()
        XCTAssertEqual(third, a)
        XCTAssertTrue(third.complete)
        XCTAssertEqual(third.sha256, try sha256Hex(ofFile: third.path))
        XCTAssertFalse(recorder.isIncomplete)
    }

    // MARK: Flushing without finish

    func testFullBatchesReachTheFileWithoutFinish() async throws {
        let directory = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "batches", settings: settings(directory, .wav, 8000, flush: .milliseconds(200)),
            startedAt: Date(), logger: quietLogger)
        feed(recorder, seconds: 1, sampleRate: 8000)
        // Five full batches were handed over; the header is brought up to date after each.
        let flushed = try await waitUntil { try SoundFileInfo.read(recorder.path).frames == 8000 }
        XCTAssertTrue(flushed, "the live file does not describe the written audio")
        _ = await recorder.finish()
    }

    func testTimerHandsOverAPartialBatch() async throws {
        let directory = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "timer", settings: settings(directory, .wav, 8000, flush: .milliseconds(200)),
            startedAt: Date(), logger: quietLogger)
        // 100 ms: half a batch, which only the timer hands over.
        feed(recorder, seconds: 0.1, sampleRate: 8000)
        let flushed = try await waitUntil { try SoundFileInfo.read(recorder.path).frames == 800 }
        XCTAssertTrue(flushed, "a partial batch stayed in memory")
        _ = await recorder.finish()
    }

    func testReleasingWithoutFinishFinalisesInTheBackground() async throws {
        let directory = try makeTemporaryDirectory(self)
        var path = ""
        do {
            let recorder = try CallRecorder(
                callID: "dropped", settings: settings(directory, .wav, 8000), startedAt: Date(), logger: quietLogger)
            path = recorder.path
            feed(recorder, seconds: 0.5, sampleRate: 8000)
        }
        let finalPath = SidecarJSON.finalPath(forAudio: path)
        let written = await waitUntil { FileManager.default.fileExists(atPath: finalPath) }
        XCTAssertTrue(written)
        let metadata = try RecordingMetadata.read(contentsOf: finalPath)
        XCTAssertFalse(metadata.complete)
        XCTAssertEqual(metadata.failure, RecordingError.abandoned.description)
        XCTAssertEqual(metadata.durationSeconds, 0.5)
        XCTAssertEqual(try decode(path).frames, 4000)
    }

    func testShorterChannelIsPaddedWithSilence() async throws {
        let directory = try makeTemporaryDirectory(self)
        let recorder = try CallRecorder(
            callID: "uneven", settings: settings(directory, .wav, 8000), startedAt: Date(), logger: quietLogger)
        let left = [Int16](repeating: 1000, count: 160)
        let right = [Int16](repeating: -1000, count: 100)
        left.withUnsafeBufferPointer { l in right.withUnsafeBufferPointer { r in recorder.append(left: l, right: r) } }
        let metadata = await recorder.finish()
        let audio = try decode(metadata.path)
        XCTAssertEqual(audio.left, left)
        XCTAssertEqual(audio.right, right + [Int16](repeating: 0, count: 60))
    }

    #if os(Linux)
    func testNoFileDescriptorsLeak() async throws {
        func openDescriptors() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        }
        let directory = try makeTemporaryDirectory(self)
        let before = try openDescriptors()
        for format in RecordingFormat.allCases {
            for index in 0..<3 {
                let recorder = try CallRecorder(
                    callID: "fd-\(index)", settings: settings(directory, format, 8000), startedAt: Date(), logger: quietLogger)
                feed(recorder, seconds: 0.2, sampleRate: 8000)
                _ = await recorder.finish()
            }
        }
        _ = RecordingRepair.repairInterrupted(in: directory, logger: quietLogger)
        // Recorders released by earlier tests may still be closing: fewer is fine, more is a leak.
        XCTAssertLessThanOrEqual(try openDescriptors(), before)
    }
    #endif

    // MARK: Names and settings

    func testFileNameIsSanitisedAndFiledByDay() async throws {
        let directory = try makeTemporaryDirectory(self)
        let started = Date(timeIntervalSince1970: 1_735_812_672)  // 2025-01-02 10:11:12 UTC
        let callID = "../a/b c@10.0.0.1:5060"
        let first = try CallRecorder(
            callID: callID, settings: settings(directory, .wav, 8000), startedAt: started, logger: quietLogger)
        let second = try CallRecorder(
            callID: callID, settings: settings(directory, .wav, 8000), startedAt: started, logger: quietLogger)

        let folder = "\(directory)/2025/01/02/"
        XCTAssertTrue(first.path.hasPrefix(folder), first.path)
        let name = String(first.path.dropFirst(folder.count))
        XCTAssertTrue(name.hasPrefix("20250102T101112Z_"), name)
        XCTAssertFalse(name.contains("/"))
        XCTAssertFalse(name.contains(".."))
        XCTAssertTrue(name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }, name)
        XCTAssertNotEqual(first.path, second.path, "a second recording overwrote the first")
        XCTAssertTrue(second.path.hasSuffix("-2.wav"), second.path)

        // Distinct ids that sanitise alike still get distinct names.
        XCTAssertNotEqual(RecordingFileName.sanitise(callID: "a@b"), RecordingFileName.sanitise(callID: "a#b"))
        XCTAssertEqual(RecordingFileName.sanitise(callID: "plain-id_1.x"), "plain-id_1.x")

        let shanghai = RecordingSettings(
            directory: directory, format: .wav, sampleRate: 8000, timeZone: TimeZone(identifier: "Asia/Shanghai")!)
        let local = try CallRecorder(callID: "tz", settings: shanghai, startedAt: started, logger: quietLogger)
        XCTAssertTrue(local.path.hasPrefix("\(directory)/2025/01/02/20250102T181112+0800_tz"), local.path)

        for recorder in [first, second, local] {
            _ = await recorder.finish()
        }
    }

    func testInvalidSettingsThrow() throws {
        let directory = try makeTemporaryDirectory(self)
        for bad in [
            RecordingSettings(directory: directory, format: .wav, sampleRate: 44100),
            RecordingSettings(directory: directory, format: .wav, sampleRate: 8000, flushInterval: .zero),
            RecordingSettings(directory: "", format: .wav, sampleRate: 8000),
        ] {
            XCTAssertThrowsError(try CallRecorder(callID: "x", settings: bad, startedAt: Date(), logger: quietLogger)) { error in
                guard case .invalidSettings = error as? RecordingError else {
                    return XCTFail("unexpected error \(error)")
                }
            }
        }
    }
}
