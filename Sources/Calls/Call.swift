import Foundation
import HotlineCore
import Logging
import Media
import NIOConcurrencyHelpers
import NIOCore
import Recording
import SIPStack

/// One citizen's call: its SIP leg (the INVITE session) and its media leg (the RTP session),
/// run by its dialplan (`DialplanCall`, implemented in Call+Dialplan.swift).
public final class Call: @unchecked Sendable {   // mutable state behind `state`
    public let id: CallIdentifier
    public let callerNumber: String
    public let calledNumber: String
    public let language: String
    public let startedAt: Date
    public let codec: String
    let sip: InviteServerSession
    let prompts: PromptLibrary
    let services: CallServices
    private let events: EventSink
    private let recordingSettings: RecordingSettings?
    let logger: Logger

    struct State {
        var rtp: RTPSession?
        /// The caller's leg once media is open (answers re-INVITEs).
        var leg: Leg?
        /// Our SDP answer, sent with the 200 when the dialplan answers.
        var answerSDP: [UInt8]?
        var answerWaiter: CheckedContinuation<Void, Never>?
        var answeredAt: Date?
        var ended: HangupCause?
        var endedAt: Date?
        /// The INVITE's final response: 200 once answered, 487 when cancelled, else the error.
        var finalStatus: Int?
        /// `data.seq` of the next event.
        var nextSequence = 1
        var onEnd: [@Sendable (Call) -> Void] = []
        var recording: Result<CallRecording, RecordingError>?
        /// The party the caller is connected to (queue agent, dialled number), and who waits
        /// for that conversation's end.
        var connected: Leg?
        var connectionWaiter: CheckedContinuation<Void, Never>?
        /// The dialplan and its current node, for the API.
        var dialplan: String?
        var node: String?
        /// Work to cancel when the call ends (ringing agents, a dialled number).
        var cancelOnEnd: [@Sendable () -> Void] = []
        /// Supervisors on the conversation (account → leg) and the mixer they brought in.
        /// Run once `hotline.call.ended` is out, with the next event number (a callback's
        /// events continue the call).
        var afterLastEvent: [@Sendable (Int) -> Void] = []
        var supervisors: [String: Leg] = [:]
        var conference: Conference?
    }
    let state = NIOLockedValueBox(State())

    init(
        id: CallIdentifier, sip: InviteServerSession, language: String, codec: String, prompts: PromptLibrary,
        events: EventSink, recording: RecordingSettings? = nil, services: CallServices, logger: Logger
    ) {
        self.recordingSettings = recording
        self.id = id
        self.sip = sip
        self.callerNumber = sip.callerNumber
        self.calledNumber = sip.calledNumber
        self.language = language
        self.codec = codec
        self.prompts = prompts
        self.services = services
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

    /// Answers with the SDP prepared when media was opened, after `calls.answer-delay` of
    /// ringing; returns once the caller's ACK arrived and the recording runs.
    func answerCall() async throws(CallEnded) {
        if services.answerDelay > .zero {
            sip.ring()
            try? await Task.sleep(for: services.answerDelay)
        }
        let rtp = try activeRTP()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let sdp = state.withLockedValue { s -> [UInt8]? in
                guard s.ended == nil, s.answeredAt == nil, let sdp = s.answerSDP else { return nil }
                s.answerWaiter = c
                return sdp
            }
            guard let sdp else { return c.resume() }
            sip.accept(sdp: sdp)
            rtp.start()
        }
        if let ended = endCause { throw CallEnded(cause: ended) }
        // Creating the file touches the disk: off the SIP loop, before the first prompt.
        if let started = await CallRecording.start(recordingSettings, callID: id, rtp: rtp, logger: logger) {
            state.withLockedValue { $0.recording = started }
        }
    }

    public func hangup(cause: HangupCause) async {
        // Before the answer our hang-up is a 480 to the INVITE.
        state.withLockedValue { if $0.answeredAt == nil { $0.finalStatus = $0.finalStatus ?? 480 } }
        guard markEnded(cause) else { return }
        releaseMedia(cause)
        _ = try? await sip.hangup().get()
        finish()
    }

    // MARK: Events from the legs

    func attach(_ rtp: RTPSession, leg: Leg? = nil, answerSDP: [UInt8]) -> Bool {
        state.withLockedValue { s in
            guard s.ended == nil else { return false }
            s.rtp = rtp
            s.leg = leg
            s.answerSDP = answerSDP
            return true
        }
    }

    func afterLastEvent(_ handler: @escaping @Sendable (Int) -> Void) {
        state.withLockedValue { $0.afterLastEvent.append(handler) }
    }

    /// `hotline.call.ended` was emitted: nothing else is numbered in this call by it.
    func lastEventEmitted() {
        let (handlers, next) = state.withLockedValue { s in
            defer { s.afterLastEvent = [] }
            return (s.afterLastEvent, s.nextSequence)
        }
        for h in handlers { h(next) }
    }

    func onEnd(_ handler: @escaping @Sendable (Call) -> Void) {
        state.withLockedValue { $0.onEnd.append(handler) }
    }

    func sipEvent(_ event: InviteSessionEvent) {
        switch event {
        case .confirmed:
            let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
                s.answeredAt = Date()
                s.finalStatus = 200
                defer { s.answerWaiter = nil }
                return s.answerWaiter
            }
            emit(CallEventType.answered, ["codec": .string(codec)])
            waiter?.resume()
        case .cancelled:
            state.withLockedValue { $0.finalStatus = 487 }
            end(.cancelled)
        case .remoteHangup: end(.callerHangup)
        case .ackTimeout: end(.ackTimeout)
        case .transportFailure, .sessionExpired: end(.signallingFailure)
        case .infoDigit(let digit):
            // In a conversation, keys go to the other party; in the menu, to the dialplan.
            if let other = state.withLockedValue({ $0.connected }) {
                other.sip.sendInfoDigit(digit)
            } else {
                rtp?.injectDigit(digit)
            }
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
        releaseMedia(cause)
        finish()
    }

    // MARK: Internals

    private func markEnded(_ cause: HangupCause) -> Bool {
        let ended = state.withLockedValue { s -> ([CheckedContinuation<Void, Never>], [@Sendable () -> Void])? in
            guard s.ended == nil else { return nil }
            s.ended = cause
            s.endedAt = .now
            let w = [s.answerWaiter, s.connectionWaiter].compactMap { $0 }
            s.answerWaiter = nil
            s.connectionWaiter = nil
            defer { s.cancelOnEnd = [] }
            return (w, s.cancelOnEnd)
        }
        guard let (waiters, cancels) = ended else { return false }
        for w in waiters { w.resume() }
        for c in cancels { c() }
        return true
    }

    /// Runs `work` in a task that is cancelled if the call ends meanwhile (a caller hanging up
    /// while agents ring: their INVITEs get CANCEL).
    func untilEnded<T: Sendable>(_ work: @escaping @Sendable () async -> T) async -> T {
        let task = Task { await work() }
        let cancelNow = state.withLockedValue { s -> Bool in
            if s.ended != nil { return true }
            s.cancelOnEnd.append { task.cancel() }
            return false
        }
        if cancelNow { task.cancel() }
        return await task.value
    }

    /// Closes our media, and the connected party's leg if the caller was talking to one.
    private func releaseMedia(_ cause: HangupCause) {
        releaseSupervisors(cause)
        rtp?.close(cause: cause)
        if let other = state.withLockedValue({ s -> Leg? in defer { s.connected = nil }; return s.connected }) {
            other.sip.hangup()
            other.rtp.close(cause: cause)
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

    func activeRTP() throws(CallEnded) -> RTPSession {
        let (rtp, ended) = state.withLockedValue { ($0.rtp, $0.ended) }
        if let ended { throw CallEnded(cause: ended) }
        guard let rtp else { throw CallEnded(cause: .signallingFailure) }
        return rtp
    }

    func wait<T: Sendable>(_ future: EventLoopFuture<T>) async throws(CallEnded) -> T {
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
    public func emit(_ type: String, _ data: [String: JSONValue]) {
        let sequence = state.withLockedValue { s -> Int in
            defer { s.nextSequence += 1 }
            if type == CallEventType.ivrNode, case .string(let node)? = data["node"] {
                s.node = node
                if case .string(let plan)? = data["dialplan"] { s.dialplan = plan }
            }
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
                state: s.answeredAt == nil ? "ringing" : (s.connected == nil ? "answered" : "connected"), startedAt: startedAt,
                answeredAt: s.answeredAt, dialplan: s.dialplan, node: s.node)
        }
    }
}

/// A live call as the API shows it.
public struct CallSnapshot: Sendable, Codable, Equatable {
    public var id: String
    public var caller: String
    public var called: String
    public var language: String
    /// `ringing` until the caller's ACK confirms the answer, then `answered`; `connected` while
    /// the caller talks to an agent or a dialled party.
    public var state: String
    public var startedAt: Date
    public var answeredAt: Date?
    /// The dialplan running the call and its current node (IVR calls).
    public var dialplan: String?
    public var node: String?

    public init(id: String, caller: String, called: String, language: String, state: String, startedAt: Date, answeredAt: Date?,
                dialplan: String? = nil, node: String? = nil) {
        self.dialplan = dialplan
        self.node = node
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
