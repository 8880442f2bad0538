@testable import ACD
import XCTest

final class PriorityTests: XCTestCase {
    func testHigherPriorityFirstThenFIFO() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a")])
        _ = try acd.login("a", seat: seat("a"), ready: false, at: at(0))
        XCTAssertEqual(try acd.join(join("c1"), at: at(1)).joins.first?.position, 1)
        XCTAssertEqual(try acd.join(join("c2", priority: 5), at: at(2)).joins.first?.position, 1)
        XCTAssertEqual(try acd.join(join("c3"), at: at(3)).joins.first?.position, 3)
        XCTAssertEqual(try acd.join(join("c4", priority: 5), at: at(4)).joins.first?.position, 2)
        XCTAssertEqual(try acd.join(join("c5", priority: 9), at: at(5)).joins.first?.position, 1)
        XCTAssertEqual(acd.waitingOrder(), ["c5", "c2", "c4", "c1", "c3"])
        XCTAssertEqual(acd.position(of: "c1"), 4)
        var served: [EntryID] = []
        var actions = try acd.setReady("a", at: at(10))
        for i in 0..<5 {
            let offer = try XCTUnwrap(actions.onlyOffer())
            served.append(offer.entry)
            actions = acd.answerAndEnd(offer, at: at(11 + Double(i)))
        }
        XCTAssertEqual(served, ["c5", "c2", "c4", "c1", "c3"])
        XCTAssertEqual(actions.offers, [])
    }

    func testPriorityAcrossQueuesOfTheSameAgent() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q1"), QueueConfiguration(name: "q2")], agents: [agent("a", ["q1": 0, "q2": 0])])
        _ = try acd.login("a", seat: seat("a"), ready: false, at: at(0))
        _ = try acd.join(join("old", "q1"), at: at(1))
        _ = try acd.join(join("new", "q2"), at: at(2))
        _ = try acd.join(join("vip", "q2", priority: 9), at: at(3))
        var actions = try acd.setReady("a", at: at(10))
        var served: [EntryID] = []
        for i in 0..<3 {
            let offer = try XCTUnwrap(actions.onlyOffer())
            served.append(offer.entry)
            actions = acd.answerAndEnd(offer, at: at(11 + Double(i)))
        }
        XCTAssertEqual(served, ["vip", "old", "new"])
    }

    func testAFailedOfferKeepsTheCallersPlaceAtTheHead() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a"), agent("b")])
        try acd.loginAll(["a"])
        let first = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        _ = try acd.join(join("c2"), at: at(11))
        _ = try acd.join(join("c3", priority: 0), at: at(12))
        XCTAssertEqual(acd.waitingOrder(), ["c1", "c2", "c3"])
        // a rejects c1; b is still logged out: c1 (not c2) rings again, at a.
        let again = try XCTUnwrap(acd.offerFailed(first.id, .rejected, at: at(13)).onlyOffer())
        XCTAssertEqual(again.entry, "c1")
        XCTAssertEqual(again.agent, "a")
        XCTAssertEqual(acd.waitingOrder(), ["c1", "c2", "c3"])
        assertNoViolations(acd, at: at(13))
    }

    func testAgentsWhoFailedACallerAreTriedLast() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a"), agent("b"), agent("c")])
        try acd.loginAll(["a", "b", "c"])
        let toA = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        XCTAssertEqual(toA.agent, "a")
        // a is still the longest idle, but let c1 down: b, then c.
        let toB = try XCTUnwrap(acd.offerFailed(toA.id, .noAnswer, at: at(25)).onlyOffer())
        XCTAssertEqual(toB.agent, "b")
        let toC = try XCTUnwrap(acd.offerFailed(toB.id, .rejected, at: at(27)).onlyOffer())
        XCTAssertEqual(toC.agent, "c")
        // Everyone failed once: the strategy picks among all of them again (a, longest idle).
        let again = try XCTUnwrap(acd.offerFailed(toC.id, .noAnswer, at: at(42)).onlyOffer())
        XCTAssertEqual(again.agent, "a")
        // Another caller is not affected by c1's failures: a is busy, b is the longest idle.
        XCTAssertEqual(try acd.join(join("c2"), at: at(43)).onlyOffer()?.agent, "b")
    }

    func testPriorityAndPlaceSurviveASupervisorMove() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q1"), QueueConfiguration(name: "q2")],
                      agents: [agent("a", ["q1": 0]), agent("b", ["q2": 0])])
        _ = try acd.join(join("early", "q1", priority: 3), at: at(1))
        _ = try acd.join(join("mid", "q2", priority: 3), at: at(2))
        _ = try acd.join(join("vip", "q2", priority: 7), at: at(3))
        let actions = try acd.move("early", to: "q2", at: at(4))
        XCTAssertEqual(actions.lefts.map(\.reason), [.overflow])
        XCTAssertEqual(actions.joins.map(\.position), [2])
        XCTAssertEqual(acd.waitingOrder("q2"), ["vip", "early", "mid"])
        XCTAssertEqual(acd.queue(of: "early"), "q2")
        XCTAssertThrowsError(try acd.move("nobody", to: "q2", at: at(5))) { XCTAssertEqual($0 as? ACDError, .unknownEntry("nobody")) }
        XCTAssertThrowsError(try acd.move("early", to: "nowhere", at: at(5))) { XCTAssertEqual($0 as? ACDError, .unknownQueue("nowhere")) }
        assertNoViolations(acd, at: at(5))
    }
}
