import Foundation
import HotlineCore
import Media
import NIOCore

// A supervisor on a queue (or dialled) conversation of an IVR call: listen, whisper to the
// agent, or barge in (docs/queues.md, `POST /v1/calls/{id}/monitor`). The first supervisor
// turns the caller–agent bridge into a conference on the caller's media loop.

extension Call {
    public func monitor(by supervisor: String, mode: MonitorMode) async throws(CallOperationError) {
        let (agent, existing) = state.withLockedValue { s in (s.connected, s.supervisors[supervisor]) }
        guard let agent, endCause == nil, let rtp = self.rtp else { throw .notBridged }
        guard let originator = services.originator, let media = services.media else { throw .notBridged }
        let role = mode.role(agent: agent.rtp)
        let leg: Leg
        if let existing {
            leg = existing
        } else {
            do {
                leg = try await originator.originate(to: supervisor, from: callerNumber, on: rtp.eventLoop)
            } catch {
                throw .dialFailed(error)
            }
            let added = state.withLockedValue { s -> Bool in
                guard s.ended == nil, s.connected != nil else { return false }
                s.supervisors[supervisor] = leg
                return true
            }
            guard added else {
                leg.sip.hangup()
                leg.rtp.close(cause: .cancelled)
                throw .ended
            }
            leg.sip.setEventHandler { [weak self, weak leg] event in
                guard let self, let leg else { return }
                switch event {
                case .remoteHangup, .transportFailure, .sessionExpired, .ackTimeout, .cancelled:
                    self.supervisorLeft(supervisor, leg: leg)
                default:
                    break
                }
            }
        }
        let conference = state.withLockedValue { s -> (Conference, Bool) in
            if let c = s.conference { return (c, false) }
            let c = media.makeConference(on: rtp.eventLoop)
            s.conference = c
            return (c, true)
        }
        if conference.1 {
            _ = try? await conference.0.join(rtp, role: .speaker).get()
            _ = try? await conference.0.join(agent.rtp, role: .speaker).get()
        }
        _ = try? await conference.0.join(leg.rtp, role: role).get()
        emit(CallEventType.partyJoined, ["party": .string(supervisor), "role": .string(mode.rawValue)])
        logger.info("supervisor joined", metadata: ["supervisor": "\(supervisor)", "mode": "\(mode.rawValue)"])
    }

    private func supervisorLeft(_ supervisor: String, leg: Leg) {
        let conference = state.withLockedValue { s -> Conference? in
            guard s.supervisors[supervisor] === leg else { return nil }
            s.supervisors.removeValue(forKey: supervisor)
            return s.conference
        }
        _ = conference?.leave(leg.rtp)
        leg.rtp.close(cause: .callerHangup)
        emit(CallEventType.partyLeft, ["party": .string(supervisor)])
    }

    /// Hangs up the supervisors when the conversation or the call ends.
    func releaseSupervisors(_ cause: HangupCause) {
        let legs = state.withLockedValue { s -> [Leg] in
            defer { s.supervisors = [:]; s.conference = nil }
            return Array(s.supervisors.values)
        }
        for leg in legs {
            leg.sip.hangup()
            leg.rtp.close(cause: cause)
        }
    }
}
