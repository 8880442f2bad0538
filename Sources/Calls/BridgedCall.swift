import Foundation
import HotlineCore
import Logging
import Media
import NIOConcurrencyHelpers
import NIOCore
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
    private let events: EventSink
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
    }
    private let state = NIOLockedValueBox(State())

    init(id: CallIdentifier, caller: String, called: String, originator: Originator, events: EventSink, logger: Logger) {
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

    func onEnd(_ handler: @escaping @Sendable (BridgedCall) -> Void) {
        state.withLockedValue { $0.onEnd.append(handler) }
    }

    /// Dials `calledNumber` for the caller's leg `a` (its INVITE not answered yet); answers
    /// `a` with `answerSDP(rtpOfA)` once the callee answers, then bridges the two.
    func connect(caller session: InviteServerSession, leg a: Leg, codec: String, answerSDP: [UInt8]) {
        state.withLockedValue { $0.legs = [a] }
        watch(a)
        let task = Task { [self] in
            do {
                let b = try await originator.originate(to: calledNumber, from: callerNumber, on: a.rtp.eventLoop) { _ in session.ring() }
                guard addLeg(b) else {
                    b.sip.hangup()
                    b.rtp.close(cause: .cancelled)
                    return
                }
                watch(b)
                session.accept(sdp: answerSDP)
                a.rtp.start()
                try? await a.rtp.bridge(with: b.rtp).get()
                state.withLockedValue {
                    $0.answeredAt = Date()
                    $0.finalStatus = 200
                    $0.codec = codec
                }
                emit(CallEventType.answered, ["codec": .string(codec)])
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
            let transferring = state.withLockedValue { s -> Bool in
                s.legs.removeAll { $0 === leg }
                return s.transferring
            }
            leg.rtp.close(cause: .callerHangup)
            // The referrer leaving during its transfer is expected; the call goes on.
            if transferring { return }
            let cause: HangupCause = event == .cancelled ? .cancelled : (event == .remoteHangup ? .callerHangup : .signallingFailure)
            Task { await hangup(cause: cause) }
        case .infoDigit(let digit):
            other(than: leg)?.sip.sendInfoDigit(digit)
        case .referred(let target, _):
            transfer(referrer: leg, target: target)
        case .remoteModified:
            logger.debug("party changed the session", metadata: ["party": "\(leg.party)"])
        case .confirmed, .ringing, .earlyMedia, .answered, .failed, .referProgress:
            break
        }
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
                referrer.sip.notifyReferProgress(statusCode: 200)
                emit(CallEventType.transferred, ["by": .string(referrer.party), "target": .string(number), "status": 200])
                // The referrer's part is over (RFC 5589 §6.1): it usually sends BYE itself on the
                // final NOTIFY; we end its leg in any case.
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
                if gone { await hangup(cause: .normalClearing) }
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

    /// `hotline.call.ended` data, the same record as for IVR calls (docs/events.md).
    func detailRecord() -> [String: JSONValue] {
        state.withLockedValue { s in
            CallDetailRecord.fields(
                caller: callerNumber, called: calledNumber, startedAt: startedAt, answeredAt: s.answeredAt,
                endedAt: s.endedAt, cause: s.ended, finalStatus: s.finalStatus)
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
