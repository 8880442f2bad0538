import Foundation
import HotlineCore
import Logging
import Media
import NIOCore
import Recording

/// Records a call from the citizen's leg (citizen left, whoever they hear right) and reports
/// the result as `hotline.recording.completed`. Shared by every kind of call; a recording that
/// cannot start leaves the call unrecorded, never refused (the event says why).
final class CallRecording: Sendable {
    let recorder: CallRecorder
    let sampleRate: Int

    private init(recorder: CallRecorder, sampleRate: Int) {
        self.recorder = recorder
        self.sampleRate = sampleRate
    }

    /// Starts recording `rtp` when recording is configured; nil when it is not, or when the
    /// file cannot be created (logged; the returned failure is for the event).
    static func start(
        _ settings: RecordingSettings?, callID: CallIdentifier, rtp: RTPSession, logger: Logger
    ) async -> Result<CallRecording, RecordingError>? {
        guard let settings else { return nil }
        do {
            let recorder = try CallRecorder(callID: callID.rawValue, settings: settings, startedAt: Date(), logger: logger)
            _ = try? await rtp.startRecording(recorder).get()
            return .success(CallRecording(recorder: recorder, sampleRate: settings.sampleRate))
        } catch {
            logger.error("call not recorded", metadata: ["error": "\(error)"])
            return .failure(error)
        }
    }

    func pause() { recorder.pause() }
    func resume() { recorder.resume() }

    /// Stops feeding the recorder, closes the file and returns the event data.
    func finish(rtp: RTPSession?) async -> [String: JSONValue] {
        if let rtp { _ = try? await rtp.stopRecording().get() }
        return Self.eventData(await recorder.finish())
    }

    /// `hotline.recording.completed` data (docs/schemas/hotline.recording.completed.json).
    static func eventData(_ m: RecordingMetadata) -> [String: JSONValue] {
        [
            "path": .string(m.path),
            "format": .string(m.format.rawValue),
            "sampleRate": .int(Int64(m.sampleRate)),
            "channels": .int(Int64(m.channels)),
            "channelLayout": ["left": "caller", "right": "other party"],
            "startedAt": .string(RFC3339.format(m.startedAt)),
            "durationMs": .int(Int64((m.durationSeconds * 1000).rounded())),
            "sha256": .string(m.sha256),
            "complete": .bool(m.complete),
            "failure": m.failure.map { .string($0) } ?? .null,
            "repaired": .bool(m.repaired),
            "pauses": .array(m.pauses.map {
                ["startMs": .int(Int64(($0.startSeconds * 1000).rounded())), "endMs": .int(Int64(($0.endSeconds * 1000).rounded()))]
            }),
        ]
    }

    /// The event data for a call whose recording could not start.
    static func failureData(_ error: RecordingError, settings: RecordingSettings) -> [String: JSONValue] {
        [
            "path": .null, "format": .string(settings.format.rawValue), "sampleRate": .int(Int64(settings.sampleRate)),
            "channels": 2, "channelLayout": ["left": "caller", "right": "other party"],
            "startedAt": .string(RFC3339.format(Date())), "durationMs": 0, "sha256": .null,
            "complete": false, "failure": .string("\(error)"), "repaired": false, "pauses": [],
        ]
    }

    /// Recordings cut by a crash, repaired at start: events with a fixed `seq` (no other event
    /// of a call uses it), so that a repair interrupted and run again emits the same event id.
    static let repairedEventSequence = 1_000_000

    static func repairedEvents(_ repaired: [RecordingMetadata]) -> [CallEvent] {
        repaired.map { m in
            CallEvent(type: CallEventType.recordingCompleted, callID: CallIdentifier(rawValue: m.callID),
                      sequence: repairedEventSequence, data: eventData(m))
        }
    }
}
