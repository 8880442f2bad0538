import NIOCore

/// A conference mixer on one event loop: three-way calls (citizen, agent, a department or 110
/// added by the agent) and supervision of an agent's call.
///
/// Each member's incoming audio is decoded (through its jitter buffer) once per 20 ms tick
/// and submitted here; each member is then sent the sum of what the others said that it may
/// hear, in its own codec. Who hears whom is the members' roles:
///
/// | role | hears | heard by |
/// |---|---|---|
/// | `speaker` | everyone | everyone |
/// | `listener` (silent monitoring) | everyone | nobody |
/// | `whisperer(to:)` (coaching) | everyone | only the given member (the agent) |
///
/// Mixing is at the engine's decode rate. Members are served in the media clock's order, so a
/// member hears each other member's frames exactly once, from this tick or the previous one.
public final class Conference: @unchecked Sendable {   // confined to `eventLoop`
    public enum Role: Sendable {
        case speaker
        case listener
        case whisperer(to: RTPSession)

        public var name: String {
            switch self {
            case .speaker: return "speaker"
            case .listener: return "listener"
            case .whisperer: return "whisperer"
            }
        }
    }

    private struct Member {
        weak var session: RTPSession?
        var role: Role
        /// The member's latest submitted frame (silence until it submits one).
        var frame: [Int16]
    }

    public let eventLoop: EventLoop
    public let sampleRate: Int
    private var members: [ObjectIdentifier: Member] = [:]
    private var order: [ObjectIdentifier] = []
    private var mix: [Int32]

    public init(eventLoop: EventLoop, sampleRate: Int) {
        self.eventLoop = eventLoop
        self.sampleRate = sampleRate
        mix = [Int32](repeating: 0, count: sampleRate / 50)
    }

    /// Adds `session` (which stops relaying to any bridged leg) or changes its role.
    public func join(_ session: RTPSession, role: Role) -> EventLoopFuture<Void> {
        precondition(session.eventLoop === eventLoop, "conference members must share the conference's event loop")
        return eventLoop.submit { [self] in
            let id = ObjectIdentifier(session)
            if members[id] != nil {
                members[id]?.role = role
                return
            }
            members[id] = Member(session: session, role: role, frame: [Int16](repeating: 0, count: sampleRate / 50))
            order.append(id)
            session.enterConference(self)
        }
    }

    /// Removes `session`; it goes back to sending silence (or prompts) on its own.
    public func leave(_ session: RTPSession) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            let id = ObjectIdentifier(session)
            guard members.removeValue(forKey: id) != nil else { return }
            order.removeAll { $0 == id }
            session.leaveConference(self)
        }
    }

    public func memberCount() -> EventLoopFuture<Int> {
        eventLoop.submit { [self] in members.count }
    }

    /// A member's frame for this tick (loop-confined; called from the member's tick).
    func submit(_ session: RTPSession, frame: [Int16]) {
        let id = ObjectIdentifier(session)
        guard members[id] != nil else { return }
        members[id]!.frame = frame
    }

    /// What `listener` hears now: the others it may hear, summed with saturation.
    func mix(for listener: RTPSession, into out: inout [Int16]) {
        let me = ObjectIdentifier(listener)
        for i in mix.indices { mix[i] = 0 }
        for id in order where id != me {
            guard let member = members[id], member.session != nil, audible(member.role, to: listener) else { continue }
            let n = min(mix.count, member.frame.count)
            for i in 0..<n { mix[i] &+= Int32(member.frame[i]) }
        }
        out.removeAll(keepingCapacity: true)
        for v in mix { out.append(Int16(clamping: v)) }
    }

    private func audible(_ role: Role, to listener: RTPSession) -> Bool {
        switch role {
        case .speaker: return true
        case .listener: return false
        case .whisperer(let target): return target === listener
        }
    }

    /// A member's leg ended: forget it.
    func memberClosed(_ session: RTPSession) {
        let id = ObjectIdentifier(session)
        members.removeValue(forKey: id)
        order.removeAll { $0 == id }
    }
}
