import Foundation

/// One thing that happened to a call, before CloudEvents framing (docs/events.md).
/// `id` is stable: the same call step always has the same id, so a retried or recovered event
/// is recognisably the same one.
public struct CallEvent: Sendable, Equatable {
    /// e.g. `hotline.call.received`; the catalog is docs/events.md.
    public var type: String
    /// The call the event belongs to: the CloudEvent `subject`.
    public var callID: CallIdentifier
    /// Orders a call's events: 1, 2, 3... (`data.seq`).
    public var sequence: Int
    public var time: Date
    /// The type's payload, without `seq` (the encoder adds it).
    public var data: [String: JSONValue]

    public init(type: String, callID: CallIdentifier, sequence: Int, time: Date = Date(), data: [String: JSONValue]) {
        self.type = type
        self.callID = callID
        self.sequence = sequence
        self.time = time
        self.data = data
    }

    public var id: String { "\(callID.rawValue)-\(sequence)" }
}

/// The event types this node emits (docs/events.md).
public enum CallEventType {
    public static let received = "hotline.call.received"
    public static let answered = "hotline.call.answered"
    public static let ivrInput = "hotline.ivr.input"
    public static let ended = "hotline.call.ended"
    /// A party of a back-to-back call blind-transferred the other (REFER).
    public static let transferred = "hotline.call.transferred"
    /// A call's recording was closed (or repaired after a crash): file, hash, completeness.
    public static let recordingCompleted = "hotline.recording.completed"
    /// A third party or a supervisor joined a call (conference, listen, whisper, barge).
    public static let partyJoined = "hotline.party.joined"
    /// A party or supervisor left a call that goes on.
    public static let partyLeft = "hotline.party.left"
}

/// Where calls put their events: the durable outbox (Events) in the daemon, a recorder in tests.
public protocol EventSink: Sendable {
    /// Queues the event for the next group commit, keeping the order of `append` calls.
    /// Never blocks on the disk.
    func append(_ event: CallEvent)
    /// Returns once every event appended before this call is committed to the store (or the
    /// store has failed and they wait in memory for it to come back).
    func flush() async
}
