// Finishes, at daemon start, the recordings a crash left behind.

import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Repairs recordings interrupted by a crash (`kill -9`, power loss).
public enum RecordingRepair {
    /// Finds every `<file>.partial.json` under `directory` (a recorder that never finished),
    /// makes its audio file playable up to the last flushed audio, hashes it, writes
    /// `<file>.json` with `complete == false` and `repaired == true`, and removes the partial
    /// sidecar. Returns that metadata, oldest file name first, so the daemon can emit events.
    ///
    /// Blocking; run it once at start, before recording. A recording still being written
    /// (its file locked by a live recorder, in this process or another) is left alone.
    public static func repairInterrupted(in directory: String, logger: Logger) -> [RecordingMetadata] {
        let root = RecordingFileName.absolute(directory)
        guard let walker = FileManager.default.enumerator(atPath: root) else {
            logger.warning("cannot list recording directory", metadata: ["directory": "\(root)"])
            return []
        }
        var sidecars: [String] = []
        while let relative = walker.nextObject() as? String {
            if relative.hasSuffix(SidecarJSON.partialSuffix) {
                sidecars.append(root + "/" + relative)
            }
        }
        return sidecars.sorted().compactMap { repair(sidecarPath: $0, logger: logger) }
    }

    /// Repairs the recording of one partial sidecar; nil when it is still being recorded or
    /// nothing can be said about it.
    static func repair(sidecarPath: String, logger: Logger) -> RecordingMetadata? {
        let audioPath = String(sidecarPath.dropLast(SidecarJSON.partialSuffix.count))
        let finalPath = SidecarJSON.finalPath(forAudio: audioPath)
        var logger = logger
        logger[metadataKey: "recording"] = "\(audioPath)"

        // Open (and lock) first: a live recorder holds the lock.
        let fd = open(audioPath, O_RDWR | O_CLOEXEC)
        let openErrno = errno
        defer { if fd >= 0 { close(fd) } }
        if fd >= 0, !FileSystem.tryLockExclusive(fd) {
            logger.info("recording is still being written; not repairing it")
            return nil
        }

        // Interrupted after the final metadata was written but before the partial sidecar
        // was removed: the final metadata stands.
        if FileManager.default.fileExists(atPath: finalPath),
            let finished = try? RecordingMetadata.read(contentsOf: finalPath)
        {
            removeLeftovers(audioPath: audioPath, logger: logger)
            return finished
        }

        guard let sidecar = readSidecar(sidecarPath, audioPath: audioPath, logger: logger) else {
            return nil
        }

        var problem: RecordingError?
        var info: SoundFileInfo?
        if fd < 0 {
            problem = .repairFailed(path: audioPath, reason: "cannot open the audio file: \(FileSystem.describe(errno: openErrno))")
        } else {
            do {
                info = try repairAudio(fd: fd, path: audioPath, sidecar: sidecar, logger: logger)
            } catch {
                problem = error
            }
        }

        var digest = ""
        if fd >= 0 {
            do {
                digest = try FileSystem.syncAndHash(audioPath)
            } catch {
                problem = problem ?? error
            }
        }

        let sampleRate = sidecar.sampleRate > 0 ? sidecar.sampleRate : (info?.sampleRate ?? 0)
        let duration = info?.durationSeconds ?? 0
        var pauses = sidecar.pauses
        if let start = sidecar.openPauseStartSeconds {
            pauses.append(RecordingPause(startSeconds: start, endSeconds: duration))
        }
        pauses = pauses.compactMap { pause in
            guard pause.startSeconds < duration else { return nil }
            return RecordingPause(startSeconds: pause.startSeconds, endSeconds: min(pause.endSeconds, duration))
        }
        let failure = problem
            ?? .interrupted(detail: "the daemon stopped without finishing it; audio up to the last flush was kept")
        let metadata = RecordingMetadata(
            callID: sidecar.callID, path: audioPath, format: sidecar.format, sampleRate: sampleRate,
            channels: sidecar.channels, startedAt: sidecar.startedAt, durationSeconds: duration,
            sha256: digest, complete: false, failure: failure.description, pauses: pauses, repaired: true)

        do {
            try SidecarJSON.write(metadata, to: finalPath)
            removeLeftovers(audioPath: audioPath, logger: logger)
            logger.notice(
                "repaired interrupted recording",
                metadata: ["seconds": "\(duration)", "problem": "\(problem.map { "\($0)" } ?? "none")"])
        } catch {
            // The partial sidecar stays; the next start tries again.
            logger.error("cannot write metadata of repaired recording", metadata: ["error": "\(error)"])
        }
        return metadata
    }

    /// Repairs the audio file in place and checks that libsndfile opens it.
    private static func repairAudio(
        fd: Int32, path: String, sidecar: PartialSidecar, logger: Logger
    ) throws(RecordingError) -> SoundFileInfo {
        switch sidecar.format {
        case .wav:
            let outcome = try WAVRepair.repair(
                fd: fd, path: path, sampleRate: sidecar.sampleRate, channels: sidecar.channels,
                dataOffsetHint: sidecar.dataOffset)
            logger.debug(
                "WAV header repaired",
                metadata: ["frames": "\(outcome.frames)", "rebuilt": "\(outcome.rebuiltHeader)", "cut": "\(outcome.truncatedBytes)"])
            let info = try SoundFileInfo.read(path)
            guard info.frames == outcome.frames else {
                throw .repairFailed(path: path, reason: "libsndfile sees \(info.frames) frames, expected \(outcome.frames)")
            }
            return info
        case .oggOpus:
            let outcome = try OggRepair.repair(fd: fd, path: path)
            logger.debug("Ogg pages checked", metadata: ["pages": "\(outcome.pages)", "cut": "\(outcome.truncatedBytes)"])
            do {
                return try SoundFileInfo.read(path)
            } catch {
                // libsndfile refuses an Ogg/Opus stream without audio pages.
                if outcome.pages <= 2 {
                    throw .repairFailed(path: path, reason: "no audio was flushed before the interruption")
                }
                throw error
            }
        }
    }

    /// Reads the partial sidecar; if it is unreadable, says what the file name tells.
    private static func readSidecar(_ sidecarPath: String, audioPath: String, logger: Logger) -> PartialSidecar? {
        do {
            return try SidecarJSON.read(PartialSidecar.self, from: sidecarPath)
        } catch {
            logger.error("unreadable recording sidecar; using the file name", metadata: ["error": "\(error)"])
        }
        let name = (audioPath as NSString).lastPathComponent
        guard let format = RecordingFormat(fileExtension: (name as NSString).pathExtension) else {
            logger.error("not a recording file name; leaving it alone")
            return nil
        }
        // "<time>_<call id>.<ext>"
        let stem = (name as NSString).deletingPathExtension
        let callID = stem.firstIndex(of: "_").map { String(stem[stem.index(after: $0)...]) } ?? stem
        let modified = (try? FileManager.default.attributesOfItem(atPath: sidecarPath)[.modificationDate] as? Date) ?? Date()
        return PartialSidecar(
            callID: callID, path: audioPath, format: format, sampleRate: 0, channels: SampleBatch.channels,
            startedAt: modified, dataOffset: nil, pauses: [], openPauseStartSeconds: nil)
    }

    /// Removes the partial sidecar and temporary files of interrupted sidecar writes.
    private static func removeLeftovers(audioPath: String, logger: Logger) {
        let partial = SidecarJSON.partialPath(forAudio: audioPath)
        for path in [partial + ".tmp", SidecarJSON.finalPath(forAudio: audioPath) + ".tmp", partial] {
            do {
                try FileSystem.remove(path)
            } catch {
                logger.warning("cannot remove recording leftover", metadata: ["error": "\(error)"])
            }
        }
        FileSystem.syncDirectory(containing: partial)
    }
}
