@testable import ACD
import XCTest

final class StatisticsTests: XCTestCase {
    func testCountersAndRates() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", serviceLevel: .seconds(20))], agents: [agent("a")])
        _ = try acd.login("a", seat: seat("a"), ready: false, at: at(0))
        for i in 1...4 { _ = try acd.join(join("c\(i)"), at: at(0)) }
        _ = acd.abandon("c3", at: at(5))                                                  // abandoned within the service level
        let first = try XCTUnwrap(try acd.setReady("a", at: at(10)).onlyOffer())
        XCTAssertEqual(first.entry, "c1")
        let second = try XCTUnwrap(acd.answerAndEnd(first, at: at(10)).onlyOffer())       // c1 after 10 s: within
        XCTAssertEqual(second.entry, "c2")
        _ = acd.offerAnswered(second.id, at: at(24))                                      // c2 after 24 s: not within
        _ = acd.abandon("c4", at: at(40))                                                 // abandoned after it
        let total = try XCTUnwrap(acd.snapshot(queue: "q", at: at(50))?.total)
        XCTAssertEqual(total.joined, 4)
        XCTAssertEqual(total.answered, 2)
        XCTAssertEqual(total.answeredWithinServiceLevel, 1)
        XCTAssertEqual(total.abandoned, 2)
        XCTAssertEqual(total.abandonedWithinServiceLevel, 1)
        XCTAssertEqual(total.totalAbandonWaitMs, 45_000)
        XCTAssertEqual(total.ended, 4)
        XCTAssertEqual(try XCTUnwrap(total.serviceLevel), 1.0 / 3.0, accuracy: 1e-9)   // 1 of (2 answered + 1 abandoned late)
        XCTAssertEqual(try XCTUnwrap(total.abandonRate), 0.5, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(total.averageSpeedOfAnswer), 17, accuracy: 1e-9)
        XCTAssertEqual(total.longestAnswerWaitMs, 24_000)
        XCTAssertEqual(try XCTUnwrap(total.answerRate), 0.5, accuracy: 1e-9)
    }

    func testRobotOverflowCountsAsServedInTheAnswerRate() throws {
        let robot = OverflowRule(.availableAgents(atMost: 0), to: .node("robot"))
        var acd = ACD(queues: [QueueConfiguration(name: "q", overflow: [robot])], agents: [agent("a")])
        _ = try acd.join(join("r1"), at: at(0))
        _ = try acd.join(join("r2"), at: at(0))
        try acd.loginAll(["a"], from: 1)
        _ = acd.answerAndEnd(try XCTUnwrap(try acd.join(join("c1"), at: at(2)).onlyOffer()), at: at(3))
        _ = try acd.setNotReady("a", reason: "x", at: at(4))
        _ = try acd.join(join("v1"), at: at(5))   // robot again
        let total = try XCTUnwrap(acd.snapshot(queue: "q", at: at(5))?.total)
        XCTAssertEqual(total.overflowed, 3)
        XCTAssertEqual(total.overflowedToRobot, 3)
        XCTAssertEqual(total.answered, 1)
        XCTAssertEqual(try XCTUnwrap(total.answerRate), 1.0, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(total.abandonRate), 0, accuracy: 1e-9)
        XCTAssertNil(QueueCounters().answerRate)
        XCTAssertNil(QueueCounters().serviceLevel)
        XCTAssertNil(QueueCounters().averageSpeedOfAnswer)
    }

    func testFifteenMinuteWindowVersusTotal() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a")])
        for i in 0..<3 { _ = try acd.join(join("early\(i)"), at: at(60 + Double(i))) }         // minute 1
        for i in 0..<2 { _ = acd.abandon("early\(i)", at: at(120)) }                          // minute 2
        _ = try acd.join(join("m6"), at: at(6 * 60))                                          // minute 6
        for i in 0..<4 { _ = try acd.join(join("late\(i)"), at: at(20 * 60 + Double(i))) }     // minute 20
        let snap = try XCTUnwrap(acd.snapshot(queue: "q", at: at(20 * 60 + 30)))
        XCTAssertEqual(snap.total.joined, 8)
        XCTAssertEqual(snap.total.abandoned, 2)
        XCTAssertEqual(snap.last15Minutes.joined, 5, "minutes 6 to 20")
        XCTAssertEqual(snap.last15Minutes.abandoned, 0)
        XCTAssertEqual(snap.lastHour.joined, 8)
        XCTAssertEqual(snap.lastHour.abandoned, 2)
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(21 * 60))?.last15Minutes.joined, 4, "minutes 7 to 21")
        // More than an hour later the windows are empty; the total stays.
        let later = try XCTUnwrap(acd.snapshot(queue: "q", at: at(90 * 60)))
        XCTAssertEqual(later.lastHour.joined, 0)
        XCTAssertEqual(later.total.joined, 8)
    }

    func testAgentTimesAndOccupancy() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", wrapUp: .seconds(10))], agents: [agent("a")])
        _ = try acd.login("a", seat: seat("a"), at: at(0))                               // ready 0–10
        let offer = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())      // ringing 10–14
        _ = acd.offerAnswered(offer.id, at: at(14))                                      // talking 14–74
        _ = acd.callEnded(agent: "a", at: at(74))                                        // wrap-up 74–84
        _ = acd.tick(at: at(84))                                                         // ready 84–90
        _ = try acd.setNotReady("a", reason: "break", at: at(90))                        // away 90–150
        let snap = try XCTUnwrap(acd.snapshot(agent: "a", at: at(150)))
        XCTAssertEqual(snap.times.readyMs, 16_000)
        XCTAssertEqual(snap.times.reservedMs, 4_000)
        XCTAssertEqual(snap.times.onCallMs, 60_000)
        XCTAssertEqual(snap.times.wrapUpMs, 10_000)
        XCTAssertEqual(snap.times.notReadyMs, 60_000)
        XCTAssertEqual(snap.answered, 1)
        XCTAssertEqual(try XCTUnwrap(snap.times.occupancy), 74.0 / 90.0, accuracy: 1e-9)   // away time excluded
        XCTAssertNil(AgentTimes().occupancy)
    }

    func testQueueSnapshotCountsAgents() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a"), agent("b"), agent("c"), agent("d", ["other": 0])])
        try acd.loginAll(["a", "b", "c"])
        _ = try acd.setNotReady("c", reason: "x", at: at(5))
        _ = acd.offerAnswered(try XCTUnwrap(try acd.join(join("c1"), at: at(6)).onlyOffer()).id, at: at(7))
        _ = try acd.setNotReady("b", reason: "x", at: at(8))
        _ = try acd.join(join("c2"), at: at(9))
        let snap = try XCTUnwrap(acd.snapshot(queue: "q", at: at(19)))
        XCTAssertEqual(snap.agentsLoggedIn, 3)
        XCTAssertEqual(snap.agentsReady, 0)
        XCTAssertEqual(snap.agentsOnCall, 1)
        XCTAssertEqual(snap.waiting.map(\.entry), ["c2"])
        XCTAssertEqual(snap.longestWait, .seconds(10))
        XCTAssertNil(acd.snapshot(queue: "nope", at: at(19)))
    }

    func testSkillRequirementParsing() {
        XCTAssertEqual(SkillRequirement(parsing: "elderly"), SkillRequirement("elderly", minimumLevel: 1))
        XCTAssertEqual(SkillRequirement(parsing: "tax:3"), SkillRequirement("tax", minimumLevel: 3))
        XCTAssertNil(SkillRequirement(parsing: ""))
        XCTAssertNil(SkillRequirement(parsing: "tax:x"))
        XCTAssertNil(SkillRequirement(parsing: "tax:-1"))
        XCTAssertNil(SkillRequirement(parsing: ":3"), "a level without a name")
        XCTAssertNil(SkillRequirement(parsing: "tax:"), "a colon without a level")
    }
}
