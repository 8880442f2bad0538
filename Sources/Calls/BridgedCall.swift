import Foundation
import HotlineCore
import Logging
import Media
import NIOConcurrencyHelpers
import NIOCore
import Recording
import SDP
import SIPMessages
import SIPStack

/// A back-to-back call between two SIP parties (a phone calling an extension, or a transfer's
/// result), media anchored here and relayed between the legs' RTP sessions. Either party may
/// hang up, put the other on hold (re-INVITE, answered by its own leg), send keys (RFC 4733 is
/// relayed in the media; INFO is relayed as INFO), or blind-transfer the other (REFER): the
/// referrer leaves, the other party is bridged to the new callee, and the referrer hears
/// the outcome in NOTIFYs.
public final class BridgedCall: @unchecked Sendable {   // mutable state behind `state`
    public let id: CallIdentifier
    public let callerNumber: String
    public let calledNumber: String
    public let startedAt = Date()
    private let originator: Originator
    private let media: MediaEngine
    private let events: EventSink
    private let recordingSettings: RecordingSettings?
    private let logger: Logger

    private struct State {
        var legs: [Leg] = []
        var answeredAt: Date?
        var ended: HangupCause?
        var endedAt: Date?
        var finalStatus: Int?
        var codec: String?
        var nextSequence = 1
        var onEnd: [@Sendable (BridgedCall) -> Void] = []
        var dialTask: Task<Void, Never>?
        var transferring = false
        var recording: Result<CallRecording, RecordingError>?
        /// Once a third party or a supervisor joins, the legs are mixed here instead of relayed.
        var conference: Conference?
        /// Supervisors' legs (listen, whisper, barge) by leg: not parties of the call.
        var supervisors: [ObjectIdentifier: String] = [:]
        var holdMusicPlaying: Set<ObjectIdentifier> = []
        var callerRTP: RTPSession?
    }
    private let state = NIOLockedValueBox(State())

    init(id: CallIdentifier, caller: String, called: String, originator: Originator, media: MediaEngine, events: EventSink,
         recording: RecordingSettings? = nil, logger: Logger) {
        self.media = media
        self.recordingSettings = recording
        self.id = id
        self.callerNumber = caller
        self.calledNumber = called
        self.originator = originator
        self.events = events
        var logger = logger
        logger[metadataKey: "call"] = "\(id)"
        self.logger = logger
    }

    public var endCause: HangupCause? { state.withLockedValue { $0.ended } }
    var recording: Result<CallRecording, RecordingError>? { state.withLockedValue { $0.recording } }

    /// Privacy: the recording keeps time but holds silence until resumed. False when the
    /// call is not being recorded.
    public func setRecordingPaused(_ paused: Bool) -> Bool {
        guard case .success(let r) = recording else { return false }
        if paused { r.pause() } else { r.resume() }
        return true
    }

    func onEnd(_ handler: @escaping @Sendable (BridgedCall) -> Void) {
        state.withLockedValue { $0.onEnd.append(handler) }
    }

    /// Dials `calledNumber` for the caller's leg `a` (its INVITE not answered yet); answers
    /// `a` with `answerSDP(rtpOfA)` once the callee answers, then bridges the two.
    func connect(caller session: InviteServerSession, leg a: Leg, codec: AudioCodec, answerSDP: [UInt8]) {
        let codecName = MediaCodec(codec).name
        state.withLockedValue {
            $0.legs = [a]
            $0.callerRTP = a.rtp
        }
        watch(a)
        let task = Task { [self] in
            do {
                let b = try await originator.originate(to: calledNumber, from: callerNumber, on: a.rtp.eventLoop, preferring: codec) { _ in
                    session.ring()
                }
                guard addLeg(b) else {
                    b.sip.hangup()
                    b.rtp.close(cause: .cancelled)
                    return
                }
                watch(b)
                session.accept(sdp: answerSDP)
                a.rtp.start()
                try? await a.rtp.bridge(with: b.rtp).get()
                let recording = await CallRecording.start(recordingSettings, callID: id, rtp: a.rtp, logger: logger)
                state.withLockedValue {
                    $0.answeredAt = Date()
                    $0.finalStatus = 200
                    $0.codec = codecName
                    $0.recording = recording
                }
                emit(CallEventType.answered, ["codec": .string(codecName)])
                logger.info("call bridged", metadata: ["from": "\(callerNumber)", "to": "\(calledNumber)"])
            } catch let error as OriginateError {
                if error == .cancelled { return }
                logger.info("callee leg failed", metadata: ["to": "\(calledNumber)", "error": "\(error)"])
                state.withLockedValue { $0.finalStatus = error.statusForCaller }
                session.reject(statusCode: error.statusForCaller)
                end(error.statusForCaller == 404 || error.statusForCaller == 480 ? .notFound : .rejected)
            } catch {
                end(.signallingFailure)
            }
        }
        state.withLockedValue { $0.dialTask = task }
    }

    private func addLeg(_ leg: Leg) -> Bool {
        state.withLockedValue { s in
            guard s.ended == nil else { return false }
            s.legs.append(leg)
            return true
        }
    }

    private func watch(_ leg: Leg) {
        leg.sip.setEventHandler { [weak self, weak leg] event in
            guard let self, let leg else { return }
            self.legEvent(leg, event)
        }
    }

    private func other(than leg: Leg) -> Leg? {
        state.withLockedValue { s in s.legs.first { $0 !== leg } }
    }

    private func legEvent(_ leg: Leg, _ event: InviteSessionEvent) {
        switch event {
        case .remoteHangup, .transportFailure, .sessionExpired, .ackTimeout, .cancelled:
            let (transferring, goesOn) = state.withLockedValue { s -> (Bool, Bool) in
                let wasCaller = s.legs.first === leg
                s.legs.removeAll { $0 === leg }
                let wasSupervisor = s.supervisors.removeValue(forKey: ObjectIdentifier(leg)) != nil
                // A conference goes on while the caller and another party remain; a supervisor
                // leaving changes nothing for the parties.
                let parties = s.legs.filter { s.supervisors[ObjectIdentifier($0)] == nil }
                let goesOn = s.conference != nil && (wasSupervisor || (!wasCaller && parties.count >= 2))
                return (s.transferring, goesOn)
            }
            leg.rtp.close(cause: .callerHangup)
            // The referrer leaving during its transfer is expected; the call goes on.
            if transferring { return }
            if goesOn {
                emit(CallEventType.partyLeft, ["party": .string(leg.party)])
                return
            }
            let cause: HangupCause = event == .cancelled ? .cancelled : (event == .remoteHangup ? .callerHangup : .signallingFailure)
            Task { await hangup(cause: cause) }
        case .infoDigit(let digit):
            other(than: leg)?.sip.sendInfoDigit(digit)
        case .referred(let target, _):
            transfer(referrer: leg, target: target)
        case .remoteModified:
            logger.debug("party changed the session", metadata: ["party": "\(leg.party)"])
            holdChanged(by: leg)
        case .confirmed, .ringing, .earlyMedia, .answered, .failed, .referProgress:
            break
        }
    }

    // MARK: Hold

    /// A party put the other on hold (its offer stopped receiving: sendonly or inactive) or took
    /// it back: the other hears music on hold meanwhile, not silence.
    private func holdChanged(by holder: Leg) {
        guard let other = other(than: holder) else { return }
        let held = holder.isHolding
        let changed = state.withLockedValue { s -> Bool in
            let id = ObjectIdentifier(other)
            if held { return s.holdMusicPlaying.insert(id).inserted }
            return s.holdMusicPlaying.remove(id) != nil
        }
        guard changed else { return }
        if held, let music = media.prompts.holdMusic {
            logger.info("on hold: music", metadata: ["held": "\(other.party)", "by": "\(holder.party)"])
            _ = other.rtp.play([music], interruptible: false, loop: true)
        } else if !held {
            other.rtp.stopPlayback()
        }
    }

    // MARK: Conference and supervision

    /// Adds `number` (an account or a number for the trunk) as a third party: from then on the
    /// legs are mixed (everyone hears everyone). Returns once it answered.
    public func addParty(_ number: String) async throws(CallOperationError) {
        let (loop, answered) = state.withLockedValue { s in (s.legs.first?.rtp.eventLoop, s.answeredAt != nil) }
        guard let loop, answered, endCause == nil else { throw .notAnswered }
        let leg: Leg
        do {
            leg = try await originator.originate(to: number, from: callerNumber, on: loop)
        } catch {
            throw .dialFailed(error)
        }
        guard addLeg(leg) else {
            leg.sip.hangup()
            leg.rtp.close(cause: .cancelled)
            throw .ended
        }
        watch(leg)
        let conference = await ensureConference(on: loop)
        _ = try? await conference.join(leg.rtp, role: .speaker).get()
        emit(CallEventType.partyJoined, ["party": .string(number), "role": "party"])
        logger.info("party added", metadata: ["party": "\(number)"])
    }

    /// A supervisor joins (or changes mode): `listen` hears both sides silently, `whisper` is
    /// heard by the agent only, `barge` by everyone.
    public func monitor(by supervisor: String, mode: MonitorMode) async throws(CallOperationError) {
        let (loop, agent, existing, answered) = state.withLockedValue { s in
            (s.legs.first?.rtp.eventLoop,
             s.legs.dropFirst().first { s.supervisors[ObjectIdentifier($0)] == nil },
             s.legs.first { s.supervisors[ObjectIdentifier($0)] == supervisor },
             s.answeredAt != nil)
        }
        guard let loop, let agent, answered, endCause == nil else { throw .notAnswered }
        let role = mode.role(agent: agent.rtp)
        let leg: Leg
        if let existing {
            leg = existing
        } else {
            do {
                leg = try await originator.originate(to: supervisor, from: callerNumber, on: loop)
            } catch {
                throw .dialFailed(error)
            }
            let added = state.withLockedValue { s -> Bool in
                guard s.ended == nil else { return false }
                s.legs.append(leg)
                s.supervisors[ObjectIdentifier(leg)] = supervisor
                return true
            }
            guard added else {
                leg.sip.hangup()
                leg.rtp.close(cause: .cancelled)
                throw .ended
            }
            watch(leg)
        }
        let conference = await ensureConference(on: loop)
        _ = try? await conference.join(leg.rtp, role: role).get()
        emit(CallEventType.partyJoined, ["party": .string(supervisor), "role": .string(mode.rawValue)])
        logger.info("supervisor joined", metadata: ["supervisor": "\(supervisor)", "mode": "\(mode.rawValue)"])
    }

    /// The call's conference, created from its bridge on first use (both parties speakers).
    private func ensureConference(on loop: EventLoop) async -> Conference {
        let (existing, legs) = state.withLockedValue { s -> (Conference?, [Leg]) in
            if let c = s.conference { return (c, []) }
            let c = media.makeConference(on: loop)
            s.conference = c
            return (nil, s.legs.filter { s.supervisors[ObjectIdentifier($0)] == nil })
        }
        if let existing { return existing }
        let conference = state.withLockedValue { $0.conference! }
        for leg in legs { _ = try? await conference.join(leg.rtp, role: .speaker).get() }
        return conference
    }

    /// RFC 3515 / RFC 5589 blind transfer: `referrer` asked us to connect the other party to
    /// `target` (a `sip:` URI whose user part is an account or a number for the trunk).
    private func transfer(referrer: Leg, target: String) {
        guard let transferee = other(than: referrer),
            let number = (try? SIPURI.parse(target))?.user, !number.isEmpty
        else {
            referrer.sip.notifyReferProgress(statusCode: 400)
            return
        }
        state.withLockedValue { $0.transferring = true }
        logger.info("blind transfer", metadata: ["by": "\(referrer.party)", "party": "\(transferee.party)", "to": "\(number)"])
        // The transferee hears ringback while the target rings (instead of the referrer).
        _ = transferee.rtp.play([media.ringback], interruptible: false, loop: true)
        Task { [self] in
            do {
                let leg = try await originator.originate(to: number, from: transferee.party, on: transferee.rtp.eventLoop)
                guard addLeg(leg) else {
                    leg.sip.hangup()
                    leg.rtp.close(cause: .cancelled)
                    return
                }
                watch(leg)
                try? await transferee.rtp.bridge(with: leg.rtp).get()
                let notified = referrer.sip.notifyReferProgress(statusCode: 200)
                emit(CallEventType.transferred, ["by": .string(referrer.party), "target": .string(number), "status": 200])
                // The referrer's part is over (RFC 5589 §6.1): it usually sends BYE itself on the
                // final NOTIFY; we end its leg in any case, once the NOTIFY was answered (or 2 s
                // passed): a BYE sent at once may overtake it through a proxy with several
                // workers, and the referrer would never hear that the transfer succeeded.
                _ = try? await notified.get()
                state.withLockedValue { s in
                    s.legs.removeAll { $0 === referrer }
                    s.transferring = false
                }
                referrer.sip.hangup()
                referrer.rtp.close(cause: .normalClearing)
            } catch {
                let status = (error as? OriginateError)?.statusForCaller ?? 500
                referrer.sip.notifyReferProgress(statusCode: status)
                emit(CallEventType.transferred, ["by": .string(referrer.party), "target": .string(number), "status": .int(Int64(status))])
                let gone = state.withLockedValue { s -> Bool in
                    s.transferring = false
                    return s.legs.count < 2
                }
                if gone {
                    // Nobody left to talk to: a few seconds of busy tone, then the end.
                    _ = transferee.rtp.play([media.busy], interruptible: false, loop: true)
                    try? await Task.sleep(for: .seconds(3))
                    await hangup(cause: .normalClearing)
                } else {
                    transferee.rtp.stopPlayback()   // back to the referrer
                }
            }
        }
    }

    /// Ends the call: BYE (or CANCEL) every leg still up.
    public func hangup(cause: HangupCause) async {
        let (legs, task) = state.withLockedValue { s -> ([Leg], Task<Void, Never>?) in
            guard s.ended == nil else { return ([], nil) }
            s.ended = cause
            s.endedAt = Date()
            return (s.legs, s.dialTask)
        }
        guard endCause == cause else { return }
        task?.cancel()
        for leg in legs {
            leg.rtp.close(cause: cause)
            _ = try? await leg.sip.hangup().get()
        }
        finish()
    }

    func end(_ cause: HangupCause) {
        Task { await hangup(cause: cause) }
    }

    private func finish() {
        let handlers = state.withLockedValue { s -> [@Sendable (BridgedCall) -> Void] in
            defer { s.onEnd = [] }
            return s.onEnd
        }
        for h in handlers { h(self) }
    }

    func emit(_ type: String, _ data: [String: JSONValue]) {
        let sequence = state.withLockedValue { s -> Int in
            defer { s.nextSequence += 1 }
            return s.nextSequence
        }
        events.append(CallEvent(type: type, callID: id, sequence: sequence, data: data))
    }

    /// The caller's RTP session (its statistics go into the call detail record).
    var callerRTP: RTPSession? { state.withLockedValue { $0.callerRTP } }

    /// `hotline.call.ended` data, the same record as for IVR calls (docs/events.md), with the
    /// caller's leg's media statistics.
    func detailRecord(media: RTPStatistics?) -> [String: JSONValue] {
        state.withLockedValue { s in
            var record = CallDetailRecord.fields(
                caller: callerNumber, called: calledNumber, startedAt: startedAt, answeredAt: s.answeredAt,
                endedAt: s.endedAt, cause: s.ended, finalStatus: s.finalStatus)
            if let media, let codec = s.codec { record["media"] = CallDetailRecord.media(media, codec: codec) }
            return record
        }
    }

    public var snapshot: CallSnapshot {
        state.withLockedValue { s in
            CallSnapshot(
                id: id.rawValue, caller: callerNumber, called: calledNumber, language: "",
                state: s.answeredAt == nil ? "ringing" : "answered", startedAt: startedAt, answeredAt: s.answeredAt)
        }
    }
}
