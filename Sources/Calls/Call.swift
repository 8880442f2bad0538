import Foundation
import HotlineCore
import Logging
import Media
import NIOConcurrencyHelpers
import NIOCore
import Recording
import SIPStack

/// One citizen's call: its SIP leg (the INVITE session) and its media leg (the RTP session).
/// Implements `CallControl` for the script that runs against it.
public final class Call: CallControl, @unchecked Sendable {   // mutable state behind `state`
    public let id: CallIdentifier
    public let callerNumber: String
    public let calledNumber: String
    public let language: String
    public let startedAt: Date
    public let codec: String
    let sip: InviteServerSession
    private let prompts: PromptLibrary
    private let events: EventSink
    private let recordingSettings: RecordingSettings?
    private let logger: Logger

    private struct State {
        var rtp: RTPSession?
        /// The caller's leg once media is open (answers re-INVITEs).
        var leg: Leg?
        var answeredAt: Date?
        var ended: HangupCause?
        var endedAt: Date?
        /// The INVITE's final response: 200 once answered, 487 when cancelled, else the error.
        var finalStatus: Int?
        /// `data.seq` of the next event.
        var nextSequence = 1
        /// The prompt a key answers (the last one played), for `hotline.ivr.input`.
        var menu: String?
        var onEnd: [@Sendable (Call) -> Void] = []
        var recording: Result<CallRecording, RecordingError>?
    }
    private let state = NIOLockedValueBox(State())

    init(
        id: CallIdentifier, sip: InviteServerSession, language: String, codec: String, prompts: PromptLibrary,
        events: EventSink, recording: RecordingSettings? = nil, logger: Logger
    ) {
        self.recordingSettings = recording
        self.id = id
        self.sip = sip
        self.callerNumber = sip.callerNumber
        self.calledNumber = sip.calledNumber
        self.language = language
        self.codec = codec
        self.prompts = prompts
        self.events = events
        self.startedAt = Date()
        var logger = logger
        logger[metadataKey: "call"] = "\(id)"
        self.logger = logger
    }

    public var endCause: HangupCause? { state.withLockedValue { $0.ended } }
    public var rtp: RTPSession? { state.withLockedValue { $0.rtp } }
    var recording: Result<CallRecording, RecordingError>? { state.withLockedValue { $0.recording } }

    /// Privacy: the recording keeps time but holds silence until resumed. False when the
    /// call is not being recorded.
    public func setRecordingPaused(_ paused: Bool) -> Bool {
        guard case .success(let r) = recording else { return false }
        if paused { r.pause() } else { r.resume() }
        return true
    }

    // MARK: CallControl

    public func play(_ names: [String], interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome {
        let rtp = try activeRTP()
        let list = names.compactMap { name -> EncodedPrompt? in
            guard let p = prompts.prompt(name, language: language) else {
                logger.error("prompt missing", metadata: ["prompt": "\(name)", "language": "\(language)"])
                return nil
            }
            return p
        }
        if let last = names.last { state.withLockedValue { $0.menu = last } }
        return try await wait(rtp.play(list, interruptible: interruptible))
    }

    public func collectDigit(timeout: Duration) async throws(CallEnded) -> Character? {
        let rtp = try activeRTP()
        let digit = try await wait(rtp.collectDigit(timeout: TimeAmount.milliseconds(timeout.milliseconds)))
        if let digit {
            let menu = state.withLockedValue { $0.menu } ?? ""
            emit(CallEventType.ivrInput, ["digit": .string(String(digit)), "menu": .string(menu)])
        }
        return digit
    }

    public func hangup(cause: HangupCause) async {
        guard markEnded(cause) else { return }
        rtp?.close(cause: cause)
        _ = try? await sip.hangup().get()
        finish()
    }

    // MARK: Events from the legs

    func attach(_ rtp: RTPSession, leg: Leg? = nil) -> Bool {
        state.withLockedValue { s in
            guard s.ended == nil else { return false }
            s.rtp = rtp
            s.leg = leg
            return true
        }
    }

    func onEnd(_ handler: @escaping @Sendable (Call) -> Void) {
        state.withLockedValue { $0.onEnd.append(handler) }
    }

    func sipEvent(_ event: InviteSessionEvent, script: @escaping @Sendable (Call) async -> Void) {
        switch event {
        case .confirmed:
            state.withLockedValue {
                $0.answeredAt = Date()
                $0.finalStatus = 200
            }
            emit(CallEventType.answered, ["codec": .string(codec)])
            Task {
                // Creating the file touches the disk: off the SIP loop, before the script plays.
                if let rtp, let started = await CallRecording.start(recordingSettings, callID: id, rtp: rtp, logger: logger) {
                    state.withLockedValue { $0.recording = started }
                }
                await script(self)
            }
        case .cancelled:
            state.withLockedValue { $0.finalStatus = 487 }
            end(.cancelled)
        case .remoteHangup: end(.callerHangup)
        case .ackTimeout: end(.ackTimeout)
        case .transportFailure, .sessionExpired: end(.signallingFailure)
        case .infoDigit(let digit): rtp?.injectDigit(digit)
        case .referred:
            // Nothing to transfer in a menu: the REFER's subscription ends with 603.
            sip.notifyReferProgress(statusCode: 603)
        case .remoteModified:
            logger.debug("caller changed the session (re-INVITE or UPDATE)")
        case .ringing, .earlyMedia, .answered, .failed, .referProgress:
            break   // UAC events; this leg is the UAS
        }
    }

    func mediaEvent(_ event: MediaEvent) {
        switch event {
        case .noMediaTimeout:
            logger.notice("no RTP received; hanging up")
            Task { await hangup(cause: .mediaTimeout) }
        }
    }

    /// The call ended by the other side or the network: release media, notify.
    func end(_ cause: HangupCause) {
        guard markEnded(cause) else { return }
        rtp?.close(cause: cause)
        finish()
    }

    // MARK: Internals

    private func markEnded(_ cause: HangupCause) -> Bool {
        state.withLockedValue { s in
            guard s.ended == nil else { return false }
            s.ended = cause
            s.endedAt = .now
            return true
        }
    }

    private func finish() {
        let handlers = state.withLockedValue { s -> [@Sendable (Call) -> Void] in
            let h = s.onEnd
            s.onEnd = []
            return h
        }
        for h in handlers { h(self) }
    }

    private func activeRTP() throws(CallEnded) -> RTPSession {
        let (rtp, ended) = state.withLockedValue { ($0.rtp, $0.ended) }
        if let ended { throw CallEnded(cause: ended) }
        guard let rtp else { throw CallEnded(cause: .signallingFailure) }
        return rtp
    }

    private func wait<T: Sendable>(_ future: EventLoopFuture<T>) async throws(CallEnded) -> T {
        do {
            return try await future.get()
        } catch let ended as CallEnded {
            throw ended
        } catch {
            throw CallEnded(cause: endCause ?? .signallingFailure)
        }
    }

    /// Records the INVITE's final response when the call is refused before answer.
    func setFinalStatus(_ status: Int) {
        state.withLockedValue { $0.finalStatus = $0.finalStatus ?? status }
    }

    /// Appends one of this call's events with the next `seq`.
    func emit(_ type: String, _ data: [String: JSONValue]) {
        let sequence = state.withLockedValue { s -> Int in
            defer { s.nextSequence += 1 }
            return s.nextSequence
        }
        events.append(CallEvent(type: type, callID: id, sequence: sequence, data: data))
    }

    /// The call detail record, the `data` of `hotline.call.ended` (docs/events.md).
    func detailRecord(media: RTPStatistics?) -> [String: JSONValue] {
        state.withLockedValue { s in
            var record = CallDetailRecord.fields(
                caller: callerNumber, called: calledNumber, startedAt: startedAt, answeredAt: s.answeredAt,
                endedAt: s.endedAt, cause: s.ended, finalStatus: s.finalStatus)
            if let media { record["media"] = CallDetailRecord.media(media, codec: codec) }
            return record
        }
    }

    public var snapshot: CallSnapshot {
        state.withLockedValue { s in
            CallSnapshot(
                id: id.rawValue, caller: callerNumber, called: calledNumber, language: language,
                state: s.answeredAt == nil ? "ringing" : "answered", startedAt: startedAt, answeredAt: s.answeredAt)
        }
    }
}

/// A live call as the API shows it.
public struct CallSnapshot: Sendable, Codable, Equatable {
    public var id: String
    public var caller: String
    public var called: String
    public var language: String
    /// `ringing` until the caller's ACK confirms the answer, then `answered`.
    public var state: String
    public var startedAt: Date
    public var answeredAt: Date?

    public init(id: String, caller: String, called: String, language: String, state: String, startedAt: Date, answeredAt: Date?) {
        self.id = id
        self.caller = caller
        self.called = called
        self.language = language
        self.state = state
        self.startedAt = startedAt
        self.answeredAt = answeredAt
    }
}

extension HangupCause {
    var isCallerSide: Bool {
        switch self {
        case .callerHangup, .cancelled: return true
        case .normalClearing, .mediaTimeout, .ackTimeout, .shutdown, .signallingFailure, .notFound, .rejected, .nodeRestart:
            return false
        }
    }
}

/// The fields of `hotline.call.ended` every kind of call shares (docs/events.md); `media` is
/// null here and filled in by calls that know their RTP statistics.
enum CallDetailRecord {
    static func fields(
        caller: String, called: String, startedAt: Date, answeredAt: Date?, endedAt: Date?, cause: HangupCause?,
        finalStatus: Int?
    ) -> [String: JSONValue] {
        let cause = cause ?? .normalClearing
        let endedAt = endedAt ?? Date()
        return [
            "caller": .string(caller),
            "called": .string(called),
            "startedAt": .string(RFC3339.format(startedAt)),
            "answeredAt": answeredAt.map { .string(RFC3339.format($0)) } ?? .null,
            "endedAt": .string(RFC3339.format(endedAt)),
            "durationMs": .int(Int64((endedAt.timeIntervalSince(startedAt) * 1000).rounded())),
            "talkMs": answeredAt.map { .int(Int64((endedAt.timeIntervalSince($0) * 1000).rounded())) } ?? .null,
            "cause": .string(cause.rawValue),
            "hangupBy": .string(cause.isCallerSide ? "caller" : "hotline"),
            "sipStatus": finalStatus.map { .int(Int64($0)) } ?? .null,
            "media": .null,
        ]
    }
}

extension CallDetailRecord {
    /// The CDR's `media` object: the caller's leg's RTP and RTCP statistics.
    static func media(_ media: RTPStatistics, codec: String) -> JSONValue {
        func rounded(_ v: Double) -> JSONValue { .double((v * 100).rounded() / 100) }
        return [
            "codec": .string(codec),
            "packetsSent": .int(Int64(media.packetsSent)),
            "packetsReceived": .int(Int64(media.packetsReceived)),
            "packetsDropped": .int(Int64(media.malformedDropped + media.foreignSourceDropped + media.unknownPayloadTypeDropped)),
            "keys": .int(Int64(media.digitsReceived)),
            "packetsLost": .int(Int64(media.packetsLost)),
            "jitterMs": rounded(media.jitterMs),
            "roundTripMs": media.roundTripMs.map(rounded) ?? .null,
            "remotePacketsLost": media.remotePacketsLost.map { .int($0) } ?? .null,
            "remoteJitterMs": media.remoteJitterMs.map(rounded) ?? .null,
            "mos": media.mos.map(rounded) ?? .null,
        ]
    }
}

/// RFC 3339 timestamps in UTC with milliseconds, as the event catalog uses.
enum RFC3339 {
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
