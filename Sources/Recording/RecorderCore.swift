// The state shared by the call path and the writer queue of one recording.

import Dispatch
import Foundation
import Logging

/// One recording's engine. The call path (`append`, `pause`, `resume`) only touches the
/// state under `lock` and never does I/O; everything that touches the file runs on `queue`,
/// a private serial queue.
///
/// Batches, sidecar updates and the final close are all enqueued while `lock` is held, so
/// the queue sees them in the order the call path produced them.
final class RecorderCore: @unchecked Sendable {
    private enum Phase {
        case recording
        /// `finish()` (or release without it) was called; the writer is draining.
        case finishing
        case finished
    }

    let callID: String
    let path: String
    let format: RecordingFormat
    let sampleRate: Int
    let startedAt: Date
    private let logger: Logger
    private let queue: DispatchQueue
    private let batchFrames: Int
    private let maxBacklogFrames: Int
    private let maxBacklogSeconds: Double
    private let flushIntervalNanoseconds: UInt64
    private let syncIntervalNanoseconds: UInt64

    // MARK: State shared with the call path, guarded by `lock`.

    private let lock = NSLock()
    private var phase = Phase.recording
    /// The first thing that went wrong; once set, further audio is dropped.
    private var failure: RecordingError?
    /// The batch being filled, and when its first frame arrived (monotonic nanoseconds).
    private var current: SampleBatch?
    private var currentStartedAt: UInt64 = 0
    /// Written batches kept for reuse, so a steady call allocates no buffers.
    private var spares: [SampleBatch] = []
    private static let maxSpares = 2
    /// Frames accepted so far: the recording's timeline, silence of pauses included.
    private var framesAccepted: Int64 = 0
    /// Frames handed to the writer and not yet written.
    private var queuedFrames = 0
    /// Start frame of the pause in progress.
    private var pauseStartFrame: Int64?
    private var pauses: [(start: Int64, end: Int64)] = []
    private var waiters: [CheckedContinuation<RecordingMetadata, Never>] = []
    private var result: RecordingMetadata?

    // MARK: State confined to `queue`.

    /// The open file; nil once closed (after a failure or at the end).
    private var sink: (any AudioFileSink)?
    private var sidecar: PartialSidecar
    private var lastSyncAt: UInt64
    private var hasUnsyncedWrites = false
    /// Frames in the file once `sink` is closed.
    private var framesInClosedFile: Int64 = 0
    /// Hands over a batch that has waited a flush interval when audio stops arriving.
    /// Created in `init`, afterwards used only on `queue`.
    private var timer: DispatchSourceTimer?

    init(
        callID: String, path: String, settings: RecordingSettings, startedAt: Date,
        sink: any AudioFileSink, sidecar: PartialSidecar, logger: Logger
    ) {
        self.callID = callID
        self.path = path
        self.format = settings.format
        self.sampleRate = settings.sampleRate
        self.startedAt = startedAt
        self.logger = logger
        self.sink = sink
        self.sidecar = sidecar
        self.queue = DispatchQueue(label: "hotline.recording.writer")
        self.batchFrames = max(1, Int(settings.flushInterval.seconds * Double(settings.sampleRate)))
        self.maxBacklogFrames = max(batchFrames, Int(settings.maxBacklog.seconds * Double(settings.sampleRate)))
        self.maxBacklogSeconds = settings.maxBacklog.seconds
        self.flushIntervalNanoseconds = settings.flushInterval.nanoseconds
        self.syncIntervalNanoseconds = settings.syncInterval.nanoseconds
        self.lastSyncAt = Self.now()

        let tick = DispatchTimeInterval.nanoseconds(Int(flushIntervalNanoseconds / 2))
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(
            deadline: .now() + tick, repeating: tick,
            leeway: .nanoseconds(Int(flushIntervalNanoseconds / 10)))
        timer.setEventHandler { [weak self] in self?.timerFired() }
        timer.activate()
        self.timer = timer
    }

    deinit {
        timer?.cancel()
    }

    private static func now() -> UInt64 {
        DispatchTime.now().uptimeNanoseconds
    }

    // MARK: Call path

    func append(left: UnsafeBufferPointer<Int16>, right: UnsafeBufferPointer<Int16>) {
        let frames = max(left.count, right.count)
        guard frames > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        guard phase == .recording, failure == nil else { return }
        let silent = pauseStartFrame != nil
        var done = 0
        while done < frames {
            let batch = currentBatchLocked()
            let count = min(batch.remainingFrames, frames - done)
            if silent {
                batch.appendSilence(count: count)
            } else {
                batch.appendInterleaved(left: left, right: right, start: done, count: count)
            }
            done += count
            framesAccepted += Int64(count)
            if batch.isFull {
                submitCurrentLocked()
                if failure != nil { return }
            }
        }
    }

    func pause() {
        lock.lock()
        defer { lock.unlock() }
        guard phase == .recording, pauseStartFrame == nil else { return }
        pauseStartFrame = framesAccepted
        enqueueSidecarUpdateLocked()
    }

    func resume() {
        lock.lock()
        defer { lock.unlock() }
        guard phase == .recording, let start = pauseStartFrame else { return }
        closePauseLocked(start: start)
        enqueueSidecarUpdateLocked()
    }

    var isPaused: Bool {
        lock.withLock { pauseStartFrame != nil }
    }

    var isIncomplete: Bool {
        lock.withLock { failure != nil || result?.complete == false }
    }

    // MARK: Ending

    func finish(_ continuation: CheckedContinuation<RecordingMetadata, Never>) {
        lock.lock()
        if let result {
            lock.unlock()
            continuation.resume(returning: result)
            return
        }
        waiters.append(continuation)
        if phase == .recording {
            beginFinishingLocked(abandoned: false)
        }
        lock.unlock()
    }

    /// The owner was released without `finish()`: finalise in the background so the file is
    /// closed properly and its metadata written.
    func abandon() {
        lock.withLock {
            if phase == .recording {
                beginFinishingLocked(abandoned: true)
            }
        }
    }

    /// Test hook: hands the partly filled batch to the writer and returns once it and
    /// everything before it is written, checkpointed and synced.
    func flushForTesting() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.withLock {
                if phase == .recording, failure == nil, current?.isEmpty == false {
                    submitCurrentLocked()
                }
                queue.async {
                    if let sink = self.sink {
                        do throws(RecordingError) {
                            try sink.sync()
                            self.lastSyncAt = Self.now()
                            self.hasUnsyncedWrites = false
                        } catch {
                            self.failWriter(error)
                        }
                    }
                    continuation.resume()
                }
            }
        }
    }

    // MARK: Helpers for the call path (lock held)

    private func currentBatchLocked() -> SampleBatch {
        if let current { return current }
        let batch = spares.popLast() ?? SampleBatch(capacityFrames: batchFrames)
        current = batch
        currentStartedAt = Self.now()
        return batch
    }

    /// Hands the current batch to the writer, or drops it and fails the recording when the
    /// writer is too far behind.
    private func submitCurrentLocked() {
        guard let batch = current, !batch.isEmpty else { return }
        current = nil
        guard queuedFrames + batch.frameCount <= maxBacklogFrames else {
            failure = .writerFellBehind(backlogSeconds: maxBacklogSeconds)
            recycleLocked(batch)
            let logger = self.logger
            let seconds = maxBacklogSeconds
            queue.async {
                logger.error(
                    "recording writer fell behind; dropping further audio",
                    metadata: ["backlog-seconds": "\(seconds)"])
            }
            return
        }
        queuedFrames += batch.frameCount
        queue.async { self.write(batch) }
    }

    private func recycleLocked(_ batch: SampleBatch) {
        batch.reset()
        if spares.count < Self.maxSpares {
            spares.append(batch)
        }
    }

    private func closePauseLocked(start: Int64) {
        if framesAccepted > start {
            pauses.append((start, framesAccepted))
        }
        pauseStartFrame = nil
    }

    private func seconds(_ frames: Int64) -> Double {
        Double(frames) / Double(sampleRate)
    }

    /// Queues a rewrite of the partial sidecar with the pauses as they are now.
    private func enqueueSidecarUpdateLocked() {
        let closed = pauses.map { RecordingPause(startSeconds: seconds($0.start), endSeconds: seconds($0.end)) }
        let open = pauseStartFrame.map { seconds($0) }
        queue.async { self.updateSidecar(pauses: closed, openPauseStartSeconds: open) }
    }

    private func beginFinishingLocked(abandoned: Bool) {
        phase = .finishing
        if let start = pauseStartFrame {
            closePauseLocked(start: start)
        }
        if failure == nil {
            submitCurrentLocked()
        }
        queue.async { self.finalize(abandoned: abandoned) }
    }

    // MARK: Writer (on `queue`)

    private func write(_ batch: SampleBatch) {
        if let sink {
            do {
                try sink.write(batch.samples)
                try sink.checkpoint()
                hasUnsyncedWrites = true
                try syncIfDue(sink)
            } catch {
                failWriter(error)
            }
        }
        lock.withLock {
            queuedFrames -= batch.frameCount
            recycleLocked(batch)
        }
    }

    /// fsync at most once per sync interval; the timer catches up on the rest.
    private func syncIfDue(_ sink: any AudioFileSink) throws(RecordingError) {
        let now = Self.now()
        guard hasUnsyncedWrites, now &- lastSyncAt >= syncIntervalNanoseconds else { return }
        try sink.sync()
        lastSyncAt = now
        hasUnsyncedWrites = false
    }

    private func timerFired() {
        lock.withLock {
            if phase == .recording, failure == nil, let batch = current, !batch.isEmpty,
                Self.now() &- currentStartedAt >= flushIntervalNanoseconds
            {
                // Enqueued behind any batch already waiting, so order is kept.
                submitCurrentLocked()
            }
        }
        if let sink {
            do {
                try syncIfDue(sink)
            } catch {
                failWriter(error)
            }
        }
    }

    /// Stops recording after a write error: later audio is dropped and the file is closed so
    /// that it describes what did reach the disk.
    private func failWriter(_ error: RecordingError) {
        lock.withLock {
            if failure == nil { failure = error }
            current.map(recycleLocked)
            current = nil
        }
        logger.error("recording failed; dropping further audio", metadata: ["error": "\(error)"])
        if let sink {
            self.sink = nil
            framesInClosedFile = sink.framesWritten
            // The header update and close may fail the same way; the first error is the story.
            try? sink.checkpoint()
            try? sink.close()
        }
    }

    private func updateSidecar(pauses: [RecordingPause], openPauseStartSeconds: Double?) {
        sidecar.pauses = pauses
        sidecar.openPauseStartSeconds = openPauseStartSeconds
        do {
            try SidecarJSON.write(sidecar, to: SidecarJSON.partialPath(forAudio: path))
        } catch {
            // Only the crash repair would miss the pause list; the audio itself is silent.
            logger.warning("cannot update recording sidecar", metadata: ["error": "\(error)"])
        }
    }

    private func finalize(abandoned: Bool) {
        timer?.cancel()
        timer = nil

        var closeError: RecordingError?
        if let sink {
            self.sink = nil
            framesInClosedFile = sink.framesWritten
            do {
                try sink.close()
            } catch {
                closeError = error
            }
        }
        let frames = framesInClosedFile

        let (firstFailure, pauseFrames) = lock.withLock { () -> (RecordingError?, [(start: Int64, end: Int64)]) in
            if self.failure == nil {
                self.failure = closeError ?? (abandoned ? .abandoned : nil)
            }
            return (self.failure, self.pauses)
        }
        var failure = firstFailure
        if abandoned {
            logger.warning("recorder released without finish(); finalising it")
        }

        var digest = ""
        do {
            digest = try FileSystem.syncAndHash(path)
        } catch {
            failure = failure ?? error
        }

        let pauses = pauseFrames.compactMap { interval -> RecordingPause? in
            guard interval.start < frames else { return nil }
            return RecordingPause(startSeconds: seconds(interval.start), endSeconds: seconds(min(interval.end, frames)))
        }
        var metadata = RecordingMetadata(
            callID: callID, path: path, format: format, sampleRate: sampleRate,
            channels: SampleBatch.channels, startedAt: startedAt, durationSeconds: seconds(frames),
            sha256: digest, complete: failure == nil, failure: failure?.description,
            pauses: pauses, repaired: false)
        do {
            try SidecarJSON.write(metadata, to: SidecarJSON.finalPath(forAudio: path))
            do {
                try FileSystem.remove(SidecarJSON.partialPath(forAudio: path))
            } catch {
                // Harmless: the repair finds "<file>.json" next to it and keeps that.
                logger.warning("cannot remove partial recording sidecar", metadata: ["error": "\(error)"])
            }
        } catch {
            // The partial sidecar stays, so the next start's repair describes the file again.
            logger.error("cannot write recording metadata", metadata: ["error": "\(error)"])
            metadata.complete = false
            metadata.failure = metadata.failure ?? error.description
        }
        if let failure {
            logger.warning("recording finished incomplete", metadata: ["path": "\(path)", "failure": "\(failure)"])
        } else {
            logger.debug("recording finished", metadata: ["path": "\(path)", "seconds": "\(metadata.durationSeconds)"])
        }

        let waiting = lock.withLock { () -> [CheckedContinuation<RecordingMetadata, Never>] in
            result = metadata
            phase = .finished
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiting {
            waiter.resume(returning: metadata)
        }
    }
}
