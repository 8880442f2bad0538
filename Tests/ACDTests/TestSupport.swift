@testable import ACD
import XCTest

/// `seconds` on the virtual clock.
func at(_ seconds: Double) -> ACDInstant { ACDInstant(milliseconds: Int64((seconds * 1000).rounded())) }

func agent(_ id: AgentID, _ queues: [String: Int] = ["q": 0], skills: [String: Int] = [:], maxNoAnswer: Int = 3) -> AgentProfile {
    AgentProfile(id: id, skills: skills, queues: queues, maxNoAnswer: maxNoAnswer)
}

func join(_ entry: EntryID, _ queue: String = "q", priority: Int = 0, skills: [SkillRequirement] = [], caller: String = "")
    -> JoinRequest
{
    JoinRequest(entry: entry, queue: queue, priority: priority, skills: skills, caller: caller)
}

/// The seat tests log `id` in at.
func seat(_ id: AgentID) -> String { "s-\(id)" }

extension ACD {
    /// Logs the agents in, ready, one second apart in the given order (so the first is the
    /// longest idle).
    mutating func loginAll(_ ids: [AgentID], from start: Double = 0) throws {
        for (i, id) in ids.enumerated() { _ = try login(id, seat: seat(id), at: at(start + Double(i))) }
    }

    func state(_ id: AgentID) -> AgentState? { snapshot(agent: id, at: .zero)?.state }

    func waitingOrder(_ queue: String = "q") -> [EntryID] { snapshot(queue: queue, at: .zero)?.waiting.map(\.entry) ?? [] }

    /// Answers `offer` and ends the call at once (no wrap-up unless the queue has one).
    mutating func answerAndEnd(_ offer: Offer, at now: ACDInstant) -> [ACDAction] {
        var actions = offerAnswered(offer.id, at: now) ?? []
        actions += callEnded(agent: offer.agent, at: now)
        return actions
    }
}

extension [ACDAction] {
    var offers: [Offer] { compactMap { if case .offer(let o) = $0 { o } else { nil } } }
    var withdrawals: [(offer: Offer, reason: OfferWithdrawal)] {
        compactMap { if case .withdraw(let o, let r) = $0 { (o, r) } else { nil } }
    }
    var lefts: [(entry: EntryID, queue: String, reason: ExitReason, waited: Duration, overflow: OverflowTarget?)] {
        compactMap { if case .left(let e, let q, let r, let w, let o) = $0 { (e, q, r, w, o) } else { nil } }
    }
    var joins: [(entry: EntryID, queue: String, position: Int, predictedWait: Duration?)] {
        compactMap { if case .joined(let e, let q, let p, let w) = $0 { (e, q, p, w) } else { nil } }
    }
    var announcements: [(entry: EntryID, position: Int, predictedWait: Duration?)] {
        compactMap { if case .announce(let e, _, let p, let w) = $0 { (e, p, w) } else { nil } }
    }
    var stateChanges: [(agent: AgentID, to: AgentState, reason: String?)] {
        compactMap { if case .agentStateChanged(let a, _, let to, let r) = $0 { (a, to, r) } else { nil } }
    }
    /// The single offer in these actions (fails the test otherwise).
    func onlyOffer(file: StaticString = #filePath, line: UInt = #line) -> Offer? {
        XCTAssertEqual(offers.count, 1, "offers: \(offers.map { "\($0.entry)→\($0.agent)" })", file: file, line: line)
        return offers.first
    }
}

func assertNoViolations(_ acd: ACD, at now: ACDInstant, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(acd.invariantViolations(at: now), [], file: file, line: line)
}
