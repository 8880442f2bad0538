@testable import ACD
import XCTest

final class CallbackTests: XCTestCase {
    private func busyACD(_ config: QueueConfiguration) throws -> ACD {
        var acd = ACD(queues: [config], agents: [agent("a")])
        try acd.loginAll(["a"])
        let offer = try XCTUnwrap(try acd.join(join("c0", config.name), at: at(0.5)).onlyOffer())
        _ = acd.offerAnswered(offer.id, at: at(0.5))
        return acd
    }

    func testRequestedCallbackKeepsThePlaceAndIsOfferedAsACallback() throws {
        var acd = try busyACD(QueueConfiguration(name: "q", timeout: .seconds(60)))
        _ = try acd.join(join("c1", caller: "13800000001"), at: at(1))
        _ = try acd.join(join("c2"), at: at(2))
        let actions = try acd.requestCallback("c1", number: "13900000009", at: at(10))
        XCTAssertEqual(actions, [.callbackScheduled(entry: "c1", queue: "q", number: "13900000009")])
        XCTAssertEqual(acd.waitingOrder(), ["c1", "c2"])
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(10))?.waiting.first?.callback, true)
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(10))?.total.callbacksScheduled, 1)
        XCTAssertThrowsError(try acd.requestCallback("c1", number: "1", at: at(11)), "already a callback")
        XCTAssertEqual(acd.abandon("c1", at: at(12)), [], "the citizen has hung up anyway")
        // A callback does not time out.
        XCTAssertEqual(acd.tick(at: at(62)).lefts.map(\.entry), ["c2"])
        let offer = try XCTUnwrap(acd.callEnded(agent: "a", at: at(70)).onlyOffer())
        XCTAssertEqual(offer.entry, "c1")
        XCTAssertEqual(offer.kind, .callback(number: "13900000009"))
        let answered = try XCTUnwrap(acd.offerAnswered(offer.id, at: at(72)))
        XCTAssertEqual(answered.lefts.map(\.reason), [.answered])
        acd.callbackConnected("c1")
        XCTAssertEqual(acd.callEnded(agent: "a", at: at(200)).stateChanges.map(\.to), [.ready])
        assertNoViolations(acd, at: at(200))
    }

    func testRequestingACallbackWhileRingingWithdrawsTheOffer() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q")], agents: [agent("a")])
        try acd.loginAll(["a"])
        let offer = try XCTUnwrap(try acd.join(join("c1"), at: at(1)).onlyOffer())
        let actions = try acd.requestCallback("c1", number: "123", at: at(2))
        XCTAssertEqual(actions.withdrawals.map(\.reason), [.callerLeft])
        XCTAssertEqual(actions.withdrawals.first?.offer, offer)
        XCTAssertEqual(actions.onlyOffer()?.kind, .callback(number: "123"))
    }

    func testMissedCallCallbackAfterWaitingLongEnough() throws {
        var acd = try busyACD(QueueConfiguration(name: "q", abandonCallbackAfter: .seconds(30)))
        _ = try acd.join(join("quick", caller: "111"), at: at(1))
        _ = try acd.join(join("patient", caller: "222"), at: at(2))
        _ = try acd.join(join("anonymous"), at: at(3))
        XCTAssertEqual(acd.abandon("quick", at: at(20)).lefts.map(\.reason), [.abandon])
        XCTAssertNil(acd.position(of: "quick"))
        let missed = acd.abandon("patient", at: at(40))
        XCTAssertEqual(missed.lefts.map(\.reason), [.abandon])
        XCTAssertTrue(missed.contains(.callbackScheduled(entry: "patient", queue: "q", number: "222")))
        XCTAssertEqual(acd.position(of: "patient"), 1)
        XCTAssertEqual(acd.abandon("anonymous", at: at(50)).lefts.map(\.reason), [.abandon], "no number to call back")
        let total = try XCTUnwrap(acd.snapshot(queue: "q", at: at(50))?.total)
        XCTAssertEqual(total.abandoned, 3)
        XCTAssertEqual(total.callbacksScheduled, 1)
        let offer = try XCTUnwrap(acd.callEnded(agent: "a", at: at(60)).onlyOffer())
        XCTAssertEqual(offer.kind, .callback(number: "222"))
        // The caller already left the queue (abandoned): the callback does not leave it again
        // nor count as an answered call.
        let answered = try XCTUnwrap(acd.offerAnswered(offer.id, at: at(61)))
        XCTAssertEqual(answered.lefts.count, 0)
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(61))?.total.answered, 1, "c0 only")
    }

    func testUnansweredCallbackRetriesAfterTheDelayUpToTheLimit() throws {
        let config = QueueConfiguration(name: "q", callbackAttempts: 3, callbackRetryDelay: .seconds(300))
        var acd = ACD(queues: [config], agents: [agent("a")])
        _ = try acd.join(join("c1"), at: at(0))
        _ = try acd.requestCallback("c1", number: "555", at: at(5))
        try acd.loginAll(["a"], from: 10)
        var actions: [ACDAction] = []
        var lefts = 0
        var now = 10.0
        var current = try XCTUnwrap(currentOffer(acd, agent: "a"))
        for attempt in 1...3 {
            XCTAssertEqual(current.kind, .callback(number: "555"))
            actions = try XCTUnwrap(acd.offerAnswered(current.id, at: at(now + 1)))
            lefts += actions.lefts.count
            actions = acd.callbackUnanswered("c1", agent: "a", at: at(now + 40))
            XCTAssertEqual(acd.state("a"), .ready, "no wrap-up after an unanswered callback")
            if attempt < 3 {
                XCTAssertEqual(actions.offers, [], "not before the retry delay")
                XCTAssertEqual(acd.position(of: "c1"), 1)
                XCTAssertEqual(acd.nextDeadline(), at(now + 340))
                XCTAssertEqual(acd.tick(at: at(now + 339)).offers, [])
                actions = acd.tick(at: at(now + 340))
                current = try XCTUnwrap(actions.onlyOffer())
                XCTAssertNotEqual(acd.nextDeadline(), at(now + 340), "the retry time is no longer a deadline once it passed")
                now += 340
            } else {
                XCTAssertEqual(actions.filter { if case .callbackAbandoned = $0 { true } else { false } },
                               [.callbackAbandoned(entry: "c1", queue: "q", number: "555")])
                XCTAssertNil(acd.position(of: "c1"))
            }
        }
        XCTAssertEqual(lefts, 1, "a caller leaves the queue once")
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(now + 100))?.total.answered, 1)
        XCTAssertNil(acd.nextDeadline())
    }

    func testARetryingCallbackKeepsItsPlaceAheadOfLaterCallers() throws {
        var acd = ACD(queues: [QueueConfiguration(name: "q", callbackRetryDelay: .seconds(60))], agents: [agent("a"), agent("b")])
        _ = try acd.join(join("c1"), at: at(0))
        _ = try acd.requestCallback("c1", number: "555", at: at(1))
        try acd.loginAll(["a"], from: 2)
        let offer = try XCTUnwrap(currentOffer(acd, agent: "a"))
        _ = acd.offerAnswered(offer.id, at: at(3))
        _ = try acd.join(join("c2"), at: at(4))
        // a is free again and takes c2 (the callback waits for its retry time).
        XCTAssertEqual(acd.callbackUnanswered("c1", agent: "a", at: at(10)).onlyOffer()?.entry, "c2")
        XCTAssertEqual(acd.waitingOrder(), ["c1", "c2"])
        _ = try acd.join(join("c3"), at: at(20))
        _ = try acd.login("b", seat: seat("b"), at: at(30))   // c3 goes to b
        XCTAssertEqual(acd.state("b"), .reserved(entry: "c3"))
        _ = acd.tick(at: at(70))
        assertNoViolations(acd, at: at(70))
    }

    private func currentOffer(_ acd: ACD, agent: AgentID) -> Offer? {
        guard case .reserved = acd.state(agent) else { return nil }
        return (1...1000).lazy.compactMap { acd.offer(OfferID($0)) }.first { $0.agent == agent }
    }
}
