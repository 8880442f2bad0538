import Media
/// How a supervisor joins an agent's call.
public enum MonitorMode: String, Sendable, CaseIterable {
    /// Hears both sides; nobody hears the supervisor.
    case listen
    /// Hears both sides; only the agent hears the supervisor (coaching).
    case whisper
    /// Hears and is heard by everyone.
    case barge

    /// The supervisor's place in the call's conference; `agent` is who a whisper reaches.
    func role(agent: RTPSession) -> Conference.Role {
        switch self {
        case .listen: .listener
        case .whisper: .whisperer(to: agent)
        case .barge: .speaker
        }
    }
}

/// Why an operation on a live call (conference, monitor) was refused.
public enum CallOperationError: Error, Sendable, CustomStringConvertible {
    case notFound
    /// The call is in the menu, not between two parties.
    case notBridged
    /// The call is not (or no longer) answered.
    case notAnswered
    case ended
    /// The call has no recording running (recording off, or not answered yet).
    case notRecorded
    /// The new party could not be reached.
    case dialFailed(OriginateError)

    public var description: String {
        switch self {
        case .notFound: return "no such call"
        case .notBridged: return "the call is not connected to a party (it is in the menu)"
        case .notAnswered: return "the call is not answered"
        case .ended: return "the call ended"
        case .notRecorded: return "the call is not being recorded"
        case .dialFailed(let e): return "could not reach the new party: \(e)"
        }
    }
}
