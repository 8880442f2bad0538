@testable import ACD
import XCTest

final class AgentStateTests: XCTestCase {
    func testIllegalTransitionsAndUnknownNamesThrow() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a"), agent("b")])
        func expect(_ error: ACDError, _ body: () throws -> Void, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { XCTAssertEqual($0 as? ACDError, error, line: line) }
        }
        expect(.illegalTransition(agent: "a", from: "logged-out", to: "ready", reason: "log in at a seat first")) {
            _ = try acd.setReady("a", at: at(1))
        }
        expect(.illegalTransition(agent: "a", from: "logged-out", to: "not-ready", reason: "log in at a seat first")) {
            _ = try acd.setNotReady("a", reason: "lunch", at: at(1))
        }
        expect(.unknownAgent("zz")) { _ = try acd.login("zz", seat: "1", at: at(1)) }
        expect(.unknownAgent("zz")) { _ = try acd.logout("zz", at: at(1)) }
        expect(.unknownAgent("zz")) { _ = try acd.setReady("zz", at: at(1)) }
        expect(.unknownAgent("zz")) { _ = try acd.setNotReady("zz", reason: "x", at: at(1)) }
        expect(.unknownQueue("nope")) { _ = try acd.join(join("c", "nope"), at: at(1)) }
        expect(.unknownEntry("c")) { _ = try acd.requestCallback("c", number: "1", at: at(1)) }

        XCTAssertEqual(try acd.login("a", seat: "1001", at: at(2)).stateChanges.map(\.to), [.ready])
        XCTAssertEqual(try acd.login("a", seat: "1001", at: at(3)).count, 0, "logging in again at the same seat is a no-op")
        if case .illegalTransition(_, let from, let to, _)? = (Result { try acd.login("a", seat: "1002", at: at(3)) }.error as? ACDError) {
            XCTAssertEqual([from, to], ["ready", "logged-in"])
        } else {
            XCTFail("logging in at a second seat must be refused")
        }
        expect(.seatTaken(seat: "1001", by: "a")) { _ = try acd.login("b", seat: "1001", at: at(4)) }
        XCTAssertEqual(acd.agent(atSeat: "1001"), "a")
        // On a call: cannot say ready.
        let offer = try XCTUnwrap(try acd.join(join("c1"), at: at(5)).onlyOffer())
        _ = acd.offerAnswered(offer.id, at: at(6))
        expect(.illegalTransition(agent: "a", from: "on-call", to: "ready", reason: "the agent is on a call")) {
            _ = try acd.setReady("a", at: at(7))
        }
        // Logging out frees the seat for someone else.
        _ = try acd.logout("a", at: at(8))   // pending
        XCTAssertEqual(acd.agent(atSeat: "1001"), "a")
        _ = acd.callEnded(agent: "a", at: at(9))
        XCTAssertEqual(acd.state("a"), .loggedOut)
        XCTAssertNil(acd.agent(atSeat: "1001"))
        XCTAssertEqual(try acd.login("b", seat: "1001", at: at(10)).stateChanges.map(\.to), [.ready])
        XCTAssertEqual(try acd.logout("a", at: at(11)).count, 0, "logging out twice is a no-op")
    }

    func testLoginNotReadyAndBackToReady() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a")])
        _ = try acd.join(join("c1"), at: at(0))
        let actions = try acd.login("a", seat: seat("a"), ready: false, at: at(1))
        XCTAssertEqual(actions.stateChanges.map(\.to), [.notReady(reason: "logged-in")])
        XCTAssertEqual(actions.offers, [])
        XCTAssertEqual(try acd.setReady("a", at: at(2)).onlyOffer()?.entry, "c1")
    }

    func testNotReadyAndLogoutDuringACallApplyWhenItEnds() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", wrapUp: .seconds(30))], agents: [agent("a"), agent("b")])
        try acd.loginAll(["a", "b"])
        let c1 = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        let c2 = try XCTUnwrap(try acd.join(join("c2"), at: at(10)).onlyOffer())
        _ = acd.offerAnswered(c1.id, at: at(11))
        _ = acd.offerAnswered(c2.id, at: at(11))
        XCTAssertEqual(try acd.setNotReady(c1.agent, reason: "lunch", at: at(20)), [])
        XCTAssertEqual(try acd.logout(c2.agent, at: at(20)), [])
        XCTAssertEqual(acd.state(c1.agent), .onCall(entry: "c1"))
        XCTAssertEqual(acd.snapshot(agent: c1.agent, at: at(20))?.pending, "not-ready: lunch")
        XCTAssertEqual(acd.snapshot(agent: c2.agent, at: at(20))?.pending, "logged-out")
        _ = try acd.join(join("c3"), at: at(21))
        // No wrap-up: the asked-for state applies at once, and c3 is not offered to them.
        let ended1 = acd.callEnded(agent: c1.agent, at: at(30))
        XCTAssertEqual(ended1.stateChanges.map(\.to), [.notReady(reason: "lunch")])
        XCTAssertEqual(ended1.offers, [])
        XCTAssertEqual(acd.callEnded(agent: c2.agent, at: at(31)).stateChanges.map(\.to), [.loggedOut])
        XCTAssertNil(acd.snapshot(agent: c2.agent, at: at(31))?.seat)
        XCTAssertEqual(acd.waitingOrder(), ["c3"])
    }

    func testChangingOnesMindDuringTheCallCancelsThePendingChange() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a")])
        try acd.loginAll(["a"])
        let offer = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        _ = acd.offerAnswered(offer.id, at: at(11))
        _ = try acd.setNotReady("a", reason: "lunch", at: at(12))
        XCTAssertEqual(try acd.setReady("a", at: at(13)), [])
        XCTAssertNil(acd.snapshot(agent: "a", at: at(13))?.pending)
        XCTAssertEqual(acd.callEnded(agent: "a", at: at(20)).stateChanges.map(\.to), [.ready])
    }

    func testNotReadyOrLogoutWhileRingingWithdrawsTheOfferAndTheCallerKeepsTheirPlace() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a"), agent("b")])
        try acd.loginAll(["a"])
        let offer = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        _ = try acd.join(join("c2"), at: at(11))
        let actions = try acd.setNotReady("a", reason: "toilet", at: at(12))
        XCTAssertEqual(actions.withdrawals.map(\.offer), [offer])
        XCTAssertEqual(actions.withdrawals.map(\.reason), [.agentUnavailable])
        XCTAssertEqual(acd.state("a"), .notReady(reason: "toilet"))
        XCTAssertEqual(acd.waitingOrder(), ["c1", "c2"])
        XCTAssertEqual(acd.offer(offer.id), nil)
        XCTAssertEqual(acd.offerAnswered(offer.id, at: at(13)), nil, "a withdrawn offer cannot be answered")
        // b logs in: c1 first.
        let toB = try XCTUnwrap(try acd.login("b", seat: seat("b"), at: at(14)).onlyOffer())
        XCTAssertEqual(toB.entry, "c1")
        let out = try acd.logout("b", at: at(15))
        XCTAssertEqual(out.withdrawals.map(\.reason), [.agentUnavailable])
        XCTAssertEqual(out.stateChanges.map(\.to), [.loggedOut])
        XCTAssertEqual(acd.waitingOrder(), ["c1", "c2"])
        // Going away is not a failure: a is not "tried last" for c1, and counts no no-answer.
        _ = try acd.login("b", seat: seat("b"), at: at(16))   // b gets c1
        XCTAssertEqual(try acd.setReady("a", at: at(17)).onlyOffer()?.entry, "c2")
        XCTAssertEqual(acd.snapshot(agent: "a", at: at(17))?.consecutiveNoAnswer, 0)
        assertNoViolations(acd, at: at(17))
    }

    func testSeatBusyBlocksOffersUnlessRingInUse() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q"), QueueConfiguration(name: "hot", ringInUse: true)],
                      agents: [agent("a", ["q": 0, "hot": 0])])
        try acd.loginAll(["a"])
        XCTAssertEqual(acd.seatBusy(seat("a"), true, at: at(1)), [])
        XCTAssertEqual(try acd.join(join("c1", "q"), at: at(2)).offers, [])
        XCTAssertEqual(try acd.join(join("c2", "hot"), at: at(3)).onlyOffer()?.entry, "c2")
        let offer = try XCTUnwrap(acd.snapshot(queue: "hot", at: at(3))?.waiting.first)
        XCTAssertTrue(offer.offered)
        assertNoViolations(acd, at: at(3))
        XCTAssertEqual(acd.seatBusy("unknown-seat", false, at: at(4)), [])
    }

    func testSeatNoLongerBusyGetsTheWaitingCaller() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a")])
        try acd.loginAll(["a"])
        _ = acd.seatBusy(seat("a"), true, at: at(1))
        _ = try acd.join(join("c1"), at: at(2))
        XCTAssertEqual(acd.seatBusy(seat("a"), false, at: at(3)).onlyOffer()?.entry, "c1")
    }

    func testLoginAtABusySeatWaitsForItsDirectCallToEnd() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a")])
        _ = try acd.join(join("c1"), at: at(0))
        XCTAssertEqual(try acd.login("a", seat: seat("a"), seatBusy: true, at: at(1)).offers, [])
        XCTAssertEqual(acd.state("a"), .ready)
        assertNoViolations(acd, at: at(1))
        XCTAssertEqual(acd.seatBusy(seat("a"), false, at: at(2)).onlyOffer()?.entry, "c1")
    }

    // MARK: Wrap-up

    func testWrapUpOfOneQueueBlocksTheOthersAndEndsOnTick() throws {
        let queues = [QueueConfiguration(name: "q1", wrapUp: .seconds(30)), QueueConfiguration(name: "q2", wrapUp: .seconds(5))]
        var acd = ACD(queues: queues, agents: [agent("a", ["q1": 0, "q2": 0])])
        try acd.loginAll(["a"])
        let offer = try XCTUnwrap(try acd.join(join("c1", "q1"), at: at(10)).onlyOffer())
        _ = acd.offerAnswered(offer.id, at: at(12))
        let ended = acd.callEnded(agent: "a", at: at(100))
        XCTAssertEqual(ended.stateChanges.map(\.to), [.wrapUp(until: at(130))], "q1's wrap-up, once, not q1+q2")
        XCTAssertEqual(acd.nextDeadline(), at(130))
        XCTAssertEqual(try acd.join(join("c2", "q2"), at: at(101)).offers, [])
        XCTAssertEqual(acd.tick(at: at(129.999)).offers, [])
        let after = acd.tick(at: at(130))
        XCTAssertEqual(after.stateChanges.first?.to, .ready)
        XCTAssertEqual(after.onlyOffer()?.entry, "c2")
    }

    func testReadyEndsWrapUpEarly() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", wrapUp: .seconds(60))], agents: [agent("a")])
        try acd.loginAll(["a"])
        _ = acd.answerAndEnd(try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer()), at: at(20))
        _ = try acd.join(join("c2"), at: at(21))
        XCTAssertEqual(acd.state("a"), .wrapUp(until: at(80)))
        XCTAssertEqual(try acd.setReady("a", at: at(30)).onlyOffer()?.entry, "c2")
    }

    // MARK: No answer

    func testThreeUnansweredOffersInARowPutTheAgentNotReady() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a")])
        try acd.loginAll(["a"])
        var offer = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        // First miss by the ring timeout, then a rejection...
        XCTAssertEqual(acd.nextDeadline(), at(25))
        var actions = acd.tick(at: at(25))
        XCTAssertEqual(actions.withdrawals.map(\.reason), [.ringTimeout])
        offer = try XCTUnwrap(actions.onlyOffer())
        offer = try XCTUnwrap(acd.offerFailed(offer.id, .rejected, at: at(30)).onlyOffer())
        XCTAssertEqual(acd.snapshot(agent: "a", at: at(30))?.consecutiveNoAnswer, 2)
        actions = acd.offerFailed(offer.id, .noAnswer, at: at(45))
        XCTAssertEqual(actions.stateChanges.map(\.to), [.notReady(reason: "no-answer")])
        XCTAssertEqual(actions.stateChanges.first?.reason, "3 offers not answered")
        XCTAssertEqual(actions.offers, [])
        XCTAssertEqual(acd.waitingOrder(), ["c1"])
        // Ready again resets the count.
        _ = try acd.setReady("a", at: at(50))
        XCTAssertEqual(acd.snapshot(agent: "a", at: at(50))?.consecutiveNoAnswer, 0)
    }

    func testAnAnswerResetsTheNoAnswerCount() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a")])
        try acd.loginAll(["a"])
        var offer = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        offer = try XCTUnwrap(acd.offerFailed(offer.id, .noAnswer, at: at(11)).onlyOffer())
        offer = try XCTUnwrap(acd.offerFailed(offer.id, .noAnswer, at: at(12)).onlyOffer())
        _ = acd.answerAndEnd(offer, at: at(13))
        XCTAssertEqual(acd.snapshot(agent: "a", at: at(13))?.consecutiveNoAnswer, 0)
        offer = try XCTUnwrap(try acd.join(join("c2"), at: at(20)).onlyOffer())
        offer = try XCTUnwrap(acd.offerFailed(offer.id, .noAnswer, at: at(21)).onlyOffer())
        XCTAssertEqual(acd.offerFailed(offer.id, .noAnswer, at: at(22)).stateChanges.map(\.to), [.ready, .reserved(entry: "c2")],
                       "two misses after the answer: still ready, and offered c2 again")
    }

    func testRingallLosersDoNotCountAsNoAnswer() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", strategy: .ringall)], agents: [agent("a"), agent("b")])
        try acd.loginAll(["a", "b"])
        for i in 0..<5 {
            let offers = try acd.join(join("c\(i)"), at: at(10 + Double(i))).offers
            XCTAssertEqual(offers.count, 2)
            _ = acd.answerAndEnd(offers.first { $0.agent == "b" }!, at: at(10.5 + Double(i)))
        }
        XCTAssertEqual(acd.state("a"), .ready)
        XCTAssertEqual(acd.snapshot(agent: "a", at: at(20))?.consecutiveNoAnswer, 0)
    }

    func testMaxNoAnswerZeroNeverPutsTheAgentAway() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a", maxNoAnswer: 0)])
        try acd.loginAll(["a"])
        var offer = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        for i in 0..<10 { offer = try XCTUnwrap(acd.offerFailed(offer.id, .noAnswer, at: at(11 + Double(i))).onlyOffer()) }
    }

    func testUnreachableSeatPutsTheAgentNotReadyAtOnce() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a"), agent("b")])
        try acd.loginAll(["a", "b"])
        let offer = try XCTUnwrap(try acd.join(join("c1"), at: at(10)).onlyOffer())
        XCTAssertEqual(offer.agent, "a")
        let actions = acd.offerFailed(offer.id, .unreachable, at: at(11))
        XCTAssertEqual(actions.stateChanges.map(\.agent), ["a", "b"])
        XCTAssertEqual(acd.state("a"), .notReady(reason: "seat-unreachable"))
        XCTAssertEqual(actions.onlyOffer()?.agent, "b")
        XCTAssertEqual(acd.offerFailed(offer.id, .noAnswer, at: at(12)), [], "an offer fails once")
    }
}

private extension Result where Failure == any Error {
    var error: (any Error)? { if case .failure(let e) = self { e } else { nil } }
}
