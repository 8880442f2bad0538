@testable import ACD
import XCTest

final class QueueRuleTests: XCTestCase {
    func testFullQueueRefusesCallers() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", maxLength: 2)], agents: [agent("a")])
        _ = try acd.join(join("c1"), at: at(1))
        _ = try acd.join(join("c2"), at: at(2))
        let refused = try acd.join(join("c3"), at: at(3))
        XCTAssertEqual(refused.lefts.map(\.reason), [.full])
        XCTAssertEqual(refused.joins.count, 0)
        XCTAssertNil(acd.position(of: "c3"))
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(3))?.total.refused, 1)
        _ = acd.abandon("c1", at: at(4))
        XCTAssertEqual(try acd.join(join("c3"), at: at(5)).joins.map(\.position), [2])
    }

    func testJoinEmptyRefusesWhenNoMemberIsAvailable() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", joinWhenEmpty: false)], agents: [agent("a"), agent("b")])
        XCTAssertEqual(try acd.join(join("c1"), at: at(1)).lefts.map(\.reason), [.joinEmpty])
        _ = try acd.login("a", seat: seat("a"), ready: false, at: at(2))
        XCTAssertEqual(try acd.join(join("c2"), at: at(3)).lefts.map(\.reason), [.joinEmpty], "not-ready members do not count")
        _ = try acd.setReady("a", at: at(4))
        let offer = try XCTUnwrap(try acd.join(join("c3"), at: at(5)).onlyOffer())
        _ = acd.offerAnswered(offer.id, at: at(6))
        // a is on a call: still available soon, so callers may wait.
        XCTAssertEqual(try acd.join(join("c4"), at: at(7)).joins.map(\.position), [1])
    }

    func testLeaveEmptySendsWaitingCallersAwayWhenTheLastMemberGoes() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", leaveWhenEmpty: true, wrapUp: .seconds(60))], agents: [agent("a")])
        try acd.loginAll(["a"])
        _ = acd.answerAndEnd(try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer()), at: at(20))
        _ = try acd.join(join("c2"), at: at(21))
        _ = try acd.join(join("c3"), at: at(22))
        XCTAssertEqual(acd.tick(at: at(23)).lefts.count, 0, "a member in wrap-up is available")
        let actions = try acd.setNotReady("a", reason: "meeting", at: at(24))
        XCTAssertEqual(actions.lefts.map(\.entry), ["c2", "c3"])
        XCTAssertTrue(actions.lefts.allSatisfy { $0.reason == .leaveEmpty })
        XCTAssertEqual(acd.waitingOrder(), [])
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(24))?.total.leftEmpty, 2)
    }

    func testLeaveEmptyWhenTheLastMemberLogsOutAfterTheirCall() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", leaveWhenEmpty: true)], agents: [agent("a")])
        try acd.loginAll(["a"])
        let offer = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        _ = acd.offerAnswered(offer.id, at: at(11))
        _ = try acd.join(join("c2"), at: at(12))
        _ = try acd.logout("a", at: at(13))
        XCTAssertEqual(acd.waitingOrder(), ["c2"])
        XCTAssertEqual(acd.callEnded(agent: "a", at: at(14)).lefts.map(\.reason), [.leaveEmpty])
    }

    func testTimeoutWhileWaiting() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", timeout: .seconds(60))], agents: [agent("a")])
        _ = try acd.join(join("c1"), at: at(0))
        _ = try acd.join(join("c2"), at: at(10))
        XCTAssertEqual(acd.nextDeadline(), at(60))
        XCTAssertEqual(acd.tick(at: at(59.999)).lefts.count, 0)
        let actions = acd.tick(at: at(60))
        XCTAssertEqual(actions.lefts.map(\.entry), ["c1"])
        XCTAssertEqual(actions.lefts.first?.reason, .timeout)
        XCTAssertEqual(actions.lefts.first?.waited, .seconds(60))
        XCTAssertEqual(acd.nextDeadline(), at(70))
    }

    func testACallersOwnTimeoutOverridesTheQueues() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", timeout: .seconds(60))], agents: [agent("a")])
        _ = try acd.join(JoinRequest(entry: "short", queue: "q", timeout: .seconds(20)), at: at(0))
        _ = try acd.join(join("normal"), at: at(0))
        XCTAssertEqual(acd.nextDeadline(), at(20))
        XCTAssertEqual(acd.tick(at: at(20)).lefts.map(\.entry), ["short"])
        XCTAssertEqual(acd.tick(at: at(60)).lefts.map(\.entry), ["normal"])
    }

    func testNoTimeoutWhileAnOfferRingsButRightAfterItFails() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", timeout: .seconds(60), ringTimeout: .seconds(15))], agents: [agent("a")])
        _ = try acd.join(join("c1"), at: at(0))
        let offer = try XCTUnwrap(try acd.login("a", seat: seat("a"), at: at(55)).onlyOffer())
        // The timeout is due but the phone rings: the next thing to do is the ring timeout.
        XCTAssertEqual(acd.tick(at: at(60)).lefts.count, 0)
        XCTAssertEqual(acd.nextDeadline(), at(70), "no deadline in the past while the offer rings")
        let failed = acd.offerFailed(offer.id, .rejected, at: at(65))
        XCTAssertEqual(failed.lefts.map(\.reason), [.timeout])
        XCTAssertEqual(failed.offers, [], "the timed-out caller is not offered again")
        XCTAssertEqual(acd.state("a"), .ready)
    }

    func testNoTimeoutWhenAnsweredJustInTime() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", timeout: .seconds(60))], agents: [agent("a")])
        _ = try acd.join(join("c1"), at: at(0))
        let offer = try XCTUnwrap(try acd.login("a", seat: seat("a"), at: at(55)).onlyOffer())
        _ = acd.tick(at: at(60))
        XCTAssertEqual(acd.offerAnswered(offer.id, at: at(62))?.lefts.map(\.reason), [.answered])
    }

    func testAnnouncementsWithPositionAndPredictedWait() throws {
        let config = QueueConfiguration(name: "q", announcePosition: true, announceHoldTime: true, announceFrequency: .seconds(30),
                                        defaultHandlingTime: .seconds(120))
        var acd = ACD(queues: [config], agents: [agent("a")])
        try acd.loginAll(["a"])
        _ = acd.offerAnswered(try XCTUnwrap(try acd.join(join("c0"), at: at(1)).onlyOffer()).id, at: at(2))
        // One agent serving (on a call), none ready: position × 120 s.
        XCTAssertEqual(try acd.join(join("c1"), at: at(10)).joins.first?.predictedWait, .seconds(120))
        XCTAssertEqual(try acd.join(join("c2"), at: at(20)).joins.first?.predictedWait, .seconds(240))
        XCTAssertEqual(acd.nextDeadline(), at(40))
        let first = acd.tick(at: at(40))
        XCTAssertEqual(first.announcements.map(\.entry), ["c1"])
        XCTAssertEqual(first.announcements.first?.position, 1)
        XCTAssertEqual(first.announcements.first?.predictedWait, .seconds(120))
        XCTAssertEqual(acd.nextDeadline(), at(50))
        let second = acd.tick(at: at(50))
        XCTAssertEqual(second.announcements.map(\.entry), ["c2"])
        XCTAssertEqual(second.announcements.first?.position, 2)
        XCTAssertEqual(second.announcements.first?.predictedWait, .seconds(240))
        XCTAssertEqual(acd.nextDeadline(), at(70))
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(50))?.predictedWait, .seconds(360))
    }

    func testNoAnnouncementWhileRingingAndNoDeadlineInThePast() throws {
        let config = QueueConfiguration(name: "q", ringTimeout: .seconds(60), announcePosition: true, announceFrequency: .seconds(30))
        var acd = ACD(queues: [config], agents: [agent("a")])
        _ = try acd.join(join("c1"), at: at(0))
        _ = try acd.login("a", seat: seat("a"), at: at(20))   // rings until 80
        XCTAssertEqual(acd.tick(at: at(30)).announcements.count, 0)
        let next = try XCTUnwrap(acd.nextDeadline())
        XCTAssertGreaterThan(next, at(30), "a deadline in the past would make the runtime tick in a loop")
    }

    func testPredictedWaitCountsReadyAgentsAndTheMeasuredHandlingTime() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", wrapUp: .seconds(20), defaultHandlingTime: .seconds(100))],
                      agents: [agent("a"), agent("b")])
        XCTAssertNil(acd.predictedWait(queue: "q", position: 1), "nobody serves the queue")
        try acd.loginAll(["a", "b"])
        XCTAssertEqual(acd.predictedWait(queue: "q", position: 2), .zero)
        XCTAssertEqual(acd.predictedWait(queue: "q", position: 4), .seconds(100))   // 2 ahead of the ready ones / 2 agents
        let offer = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        _ = acd.offerAnswered(offer.id, at: at(10))
        _ = acd.callEnded(agent: offer.agent, at: at(210))   // 200 s talk + 20 s wrap-up
        let aht = try XCTUnwrap(acd.snapshot(queue: "q", at: at(210))?.averageHandlingTime.acdMilliseconds)
        XCTAssertEqual(Double(aht), 112_000, accuracy: 1)   // 0.9×100 s + 0.1×220 s
    }
}
