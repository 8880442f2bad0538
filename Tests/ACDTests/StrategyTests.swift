@testable import ACD
import XCTest

final class StrategyTests: XCTestCase {
    func testRingallRingsEveryoneAndTheFirstAnswerWins() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .ringall)], agents: [agent("a"), agent("b"), agent("c")])
        try acd.loginAll(["a", "b", "c"])
        let offers = try acd.join(join("c1"), at: at(10)).offers
        XCTAssertEqual(offers.map(\.agent).sorted(), ["a", "b", "c"])
        XCTAssertTrue(offers.allSatisfy { $0.entry == "c1" })
        let winner = offers.first { $0.agent == "b" }!
        let actions = try XCTUnwrap(acd.offerAnswered(winner.id, at: at(12)))
        XCTAssertEqual(actions.withdrawals.map(\.offer.agent).sorted(), ["a", "c"])
        XCTAssertTrue(actions.withdrawals.allSatisfy { $0.reason == .answeredElsewhere })
        XCTAssertEqual(actions.lefts.map(\.reason), [.answered])
        XCTAssertEqual(acd.state("a"), .ready)
        XCTAssertEqual(acd.state("b"), .onCall(entry: "c1"))
        XCTAssertEqual(acd.state("c"), .ready)
        // The losers' late answers are refused: the runtime hangs up on them.
        for loser in offers where loser.agent != "b" { XCTAssertNil(acd.offerAnswered(loser.id, at: at(13))) }
        assertNoViolations(acd, at: at(13))
    }

    func testLongestIdlePicksTheAgentFreeTheLongest() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .longestIdle)], agents: [agent("a"), agent("b"), agent("c")])
        try acd.loginAll(["b", "c", "a"])   // b has been idle longest
        let first = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        XCTAssertEqual(first.agent, "b")
        _ = acd.answerAndEnd(first, at: at(20))   // b idle again since 20
        XCTAssertEqual(try acd.join(join("c2"), at: at(21)).onlyOffer()?.agent, "c")
    }

    func testRoundRobinTakesTurnsInMemberOrder() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .roundRobin)], agents: [agent("a"), agent("b"), agent("c")])
        try acd.loginAll(["c", "b", "a"])   // longest-idle would start with c
        var picked: [AgentID] = []
        for i in 0..<7 {
            let offer = try XCTUnwrap(try acd.join(join("c\(i)"), at: at(10 + Double(i))).onlyOffer())
            picked.append(offer.agent)
            _ = acd.answerAndEnd(offer, at: at(10.5 + Double(i)))
        }
        XCTAssertEqual(picked, ["a", "b", "c", "a", "b", "c", "a"])
        // An agent who is away is skipped, the turn goes on from there.
        _ = try acd.setNotReady("c", reason: "break", at: at(30))
        var more: [AgentID] = []
        for i in 0..<3 {
            let offer = try XCTUnwrap(try acd.join(join("d\(i)"), at: at(31 + Double(i))).onlyOffer())
            more.append(offer.agent)
            _ = acd.answerAndEnd(offer, at: at(31.5 + Double(i)))
        }
        XCTAssertEqual(more, ["b", "a", "b"])
    }

    func testFewestCallsPicksTheAgentWithFewestAnswersInThisQueue() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .fewestCalls)], agents: [agent("a"), agent("b"), agent("c")])
        try acd.loginAll(["a"])
        for i in 0..<2 { _ = acd.answerAndEnd(try XCTUnwrap(try acd.join(join("x\(i)"), at: at(5 + Double(i))).onlyOffer()), at: at(5.5 + Double(i))) }
        _ = try acd.setNotReady("a", reason: "break", at: at(9))
        _ = try acd.login("b", seat: seat("b"), at: at(10))
        _ = acd.answerAndEnd(try XCTUnwrap(try acd.join(join("y"), at: at(11)).onlyOffer()), at: at(12))
        _ = try acd.setReady("a", at: at(13))
        _ = try acd.login("c", seat: seat("c"), at: at(14))   // idle the shortest, but no calls yet
        let first = try XCTUnwrap(try acd.join(join("z1"), at: at(15)).onlyOffer())
        XCTAssertEqual(first.agent, "c")
        _ = acd.answerAndEnd(first, at: at(16))
        // b and c have one call each; b has been idle longer; a has two.
        XCTAssertEqual(try acd.join(join("z2"), at: at(17)).onlyOffer()?.agent, "b")
    }

    private func randomPicks(seed: UInt64, calls: Int) throws -> [AgentID] {
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .random)], agents: ["a", "b", "c", "d"].map { agent($0) }, seed: seed)
        try acd.loginAll(["a", "b", "c", "d"])
        var picks: [AgentID] = []
        for i in 0..<calls {
            let offer = try XCTUnwrap(try acd.join(join("c\(i)"), at: at(10 + Double(i))).onlyOffer())
            picks.append(offer.agent)
            _ = acd.answerAndEnd(offer, at: at(10.5 + Double(i)))
        }
        return picks
    }

    func testRandomIsReproduciblePerSeedAndSpreads() throws {
        let one = try randomPicks(seed: 42, calls: 400)
        XCTAssertEqual(one, try randomPicks(seed: 42, calls: 400))
        XCTAssertNotEqual(one, try randomPicks(seed: 43, calls: 400))
        for id in ["a", "b", "c", "d"] {
            let n = one.filter { $0 == id }.count
            XCTAssertTrue((60...140).contains(n), "\(id) picked \(n) of 400")
        }
    }

    func testSkillsPicksTheHighestLevelAndRequirementsFilter() throws {
        let agents = [agent("a", skills: ["tax": 1]), agent("b", skills: ["tax": 3]), agent("c", skills: ["tax": 2, "elderly": 1]),
                      agent("d")]
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .skills)], agents: agents)
        try acd.loginAll(["d", "a", "c", "b"])
        XCTAssertEqual(try acd.join(join("c1", skills: [SkillRequirement("tax")]), at: at(10)).onlyOffer()?.agent, "b")
        // b is ringing: of a (1) and c (2), only c has level 2.
        XCTAssertEqual(try acd.join(join("c2", skills: [SkillRequirement("tax", minimumLevel: 2)]), at: at(11)).onlyOffer()?.agent, "c")
        // Nobody left has tax 2: the caller waits although a and d are ready.
        XCTAssertEqual(try acd.join(join("c3", skills: [SkillRequirement("tax", minimumLevel: 2)]), at: at(12)).offers, [])
        XCTAssertEqual(acd.waitingOrder(), ["c1", "c2", "c3"])
        assertNoViolations(acd, at: at(12))
        // No skills needed: everyone qualifies, all level 0, the longest idle (d) wins.
        XCTAssertEqual(try acd.join(join("c4"), at: at(13)).onlyOffer()?.agent, "d")
    }

    func testSkillRequirementsFilterInOtherStrategiesToo() throws {
        let agents = [agent("a"), agent("b", skills: ["elderly": 1])]
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .longestIdle)], agents: agents)
        try acd.loginAll(["a", "b"])
        XCTAssertEqual(try acd.join(join("c1", skills: [SkillRequirement("elderly")]), at: at(10)).onlyOffer()?.agent, "b")
        // Level 0 is not "has the skill" unless it is configured.
        XCTAssertEqual(try acd.join(join("c2", skills: [SkillRequirement("elderly", minimumLevel: 0)]), at: at(11)).offers, [])
    }

    func testPenaltyTiersOnlyTheLowestReadyTierIsOffered() throws {
        let agents = [agent("a", ["q": 0]), agent("b", ["q": 1]), agent("c", ["q": 0]), agent("d", ["q": 2])]
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .longestIdle)], agents: agents)
        try acd.loginAll(["d", "b", "c", "a"])   // the higher tiers have been idle longer
        XCTAssertEqual(try acd.join(join("c1"), at: at(10)).onlyOffer()?.agent, "c")
        XCTAssertEqual(try acd.join(join("c2"), at: at(11)).onlyOffer()?.agent, "a")
        XCTAssertEqual(try acd.join(join("c3"), at: at(12)).onlyOffer()?.agent, "b")
        XCTAssertEqual(try acd.join(join("c4"), at: at(13)).onlyOffer()?.agent, "d")
    }

    func testRingallRingsOnlyTheLowestPenaltyTier() throws {
        let agents = [agent("a", ["q": 0]), agent("b", ["q": 1]), agent("c", ["q": 0])]
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .ringall)], agents: agents)
        try acd.loginAll(["a", "b", "c"])
        XCTAssertEqual(try acd.join(join("c1"), at: at(10)).offers.map(\.agent).sorted(), ["a", "c"])
        XCTAssertEqual(try acd.join(join("c2"), at: at(11)).offers.map(\.agent), ["b"])
    }
}
