@testable import ACD
import XCTest

final class OverflowTests: XCTestCase {
    /// One agent `a` on a call with `c0`, so callers wait but the queue is served.
    private func busyACD(_ queues: [QueueConfiguration], members: [String: Int]? = nil) throws -> ACD {
        var acd = ACD(queues: queues, agents: [agent("a", members ?? Dictionary(uniqueKeysWithValues: queues.map { ($0.name, 0) }))])
        try acd.loginAll(["a"])
        let offer = try XCTUnwrap(try acd.join(join("c0", queues[0].name), at: at(0.5)).onlyOffer())
        _ = acd.offerAnswered(offer.id, at: at(0.5))
        return acd
    }

    func testPredictedWaitAtJoinGoesToTheRobot() throws {
        let rule = OverflowRule(.predictedWait(above: .seconds(120)), to: .node("robot"))
        var acd = try busyACD([QueueConfiguration(name: "q", defaultHandlingTime: .seconds(100), overflow: [rule])])
        XCTAssertEqual(try acd.join(join("c1"), at: at(1)).lefts.count, 0, "100 s predicted")
        let actions = try acd.join(join("c2"), at: at(2))   // 200 s predicted
        XCTAssertEqual(actions.joins.map(\.entry), ["c2"])
        XCTAssertEqual(actions.lefts.map(\.reason), [.overflow])
        XCTAssertEqual(actions.lefts.first?.overflow, .node("robot"))
        let total = try XCTUnwrap(acd.snapshot(queue: "q", at: at(2))?.total)
        XCTAssertEqual(total.overflowed, 1)
        XCTAssertEqual(total.overflowedToRobot, 1)
    }

    func testPredictedWaitWhileWaitingIsCheckedOnTick() throws {
        let rule = OverflowRule(.predictedWait(above: .seconds(150)), to: .node("robot"))
        var acd = try busyACD([QueueConfiguration(name: "q", defaultHandlingTime: .seconds(100), overflow: [rule])])
        _ = try acd.join(join("c1"), at: at(1))
        _ = try acd.join(join("c2", priority: 5), at: at(2))   // c1 is now second: 200 s
        XCTAssertEqual(acd.tick(at: at(3)).lefts.map(\.entry), ["c1"])
    }

    func testWaitedOverflowToAnotherQueueKeepsPriorityAndPlace() throws {
        let rule = OverflowRule(.waited(atLeast: .seconds(30)), to: .queue("backup"))
        var acd = try busyACD([QueueConfiguration(name: "q", overflow: [rule]), QueueConfiguration(name: "backup")], members: ["q": 0])
        _ = try acd.join(join("c1", priority: 5), at: at(1))
        _ = try acd.join(join("b1", "backup", priority: 5), at: at(10))
        _ = try acd.join(join("b2", "backup", priority: 9), at: at(11))
        XCTAssertEqual(acd.nextDeadline(), at(31))
        let actions = acd.tick(at: at(31))
        XCTAssertEqual(actions.lefts.map(\.reason), [.overflow])
        XCTAssertEqual(actions.lefts.first?.overflow, .queue("backup"))
        XCTAssertEqual(actions.joins.map(\.queue), ["backup"])
        XCTAssertEqual(actions.joins.first?.position, 2)
        XCTAssertEqual(acd.waitingOrder("backup"), ["b2", "c1", "b1"])
        XCTAssertEqual(acd.snapshot(queue: "backup", at: at(31))?.waiting[1].priority, 5)
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(31))?.total.overflowedToRobot, 0)
    }

    func testLengthAtJoin() throws {
        let rule = OverflowRule(.length(above: 2), to: .queue("backup"))
        var acd = try busyACD([QueueConfiguration(name: "q", overflow: [rule]), QueueConfiguration(name: "backup")])
        _ = try acd.join(join("c1"), at: at(1))
        XCTAssertEqual(try acd.join(join("c2"), at: at(2)).lefts.count, 0)
        let third = try acd.join(join("c3"), at: at(3))
        XCTAssertEqual(third.lefts.first?.overflow, .queue("backup"))
        XCTAssertEqual(acd.queue(of: "c3"), "backup")
    }

    func testAvailableAgentsAtJoin() throws {
        let rule = OverflowRule(.availableAgents(atMost: 0), to: .node("voicemail"))
        var acd = ACD(queues: [QueueConfiguration(name: "q", overflow: [rule])], agents: [agent("a")])
        XCTAssertEqual(try acd.join(join("c1"), at: at(1)).lefts.first?.overflow, .node("voicemail"))
        try acd.loginAll(["a"], from: 2)
        let actions = try acd.join(join("c2"), at: at(3))
        XCTAssertEqual(actions.lefts.count, 0)
        XCTAssertEqual(actions.onlyOffer()?.entry, "c2")
    }

    func testBackFromTheRobotGetsTheOriginalPlaceAndTheRuleDoesNotFireAgain() throws {
        let rule = OverflowRule(.waited(atLeast: .seconds(30)), to: .node("robot"))
        var acd = try busyACD([QueueConfiguration(name: "q", overflow: [rule])])
        _ = try acd.join(join("c1", priority: 5), at: at(1))
        _ = try acd.join(join("c2", priority: 5), at: at(10))
        XCTAssertEqual(acd.tick(at: at(31)).lefts.map(\.entry), ["c1"])
        XCTAssertEqual(acd.tick(at: at(40)).lefts.map(\.entry), ["c2"])
        _ = try acd.join(join("c3", priority: 5), at: at(80))
        // c1 comes back unresolved (the dialplan joins again with priority 0): ahead of c3, priority 5.
        let back = try acd.join(join("c1"), at: at(100))
        XCTAssertEqual(back.joins.first?.position, 1)
        XCTAssertEqual(acd.waitingOrder(), ["c1", "c3"])
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(100))?.waiting.first?.priority, 5)
        XCTAssertEqual(acd.tick(at: at(110)).lefts.map(\.entry), ["c3"])
        // Waited 30 s since the rejoin, but the robot rule has fired for c1: it does not again.
        XCTAssertEqual(acd.tick(at: at(130)).lefts.map(\.entry), [])
        XCTAssertEqual(acd.waitingOrder(), ["c1"])
        XCTAssertEqual(acd.snapshot(queue: "q", at: at(130))?.total.joined, 5)   // c0, c1, c2, c3, c1 again
        // The agent's next caller is c1.
        XCTAssertEqual(acd.callEnded(agent: "a", at: at(131)).onlyOffer()?.entry, "c1")
    }

    func testThePlaceIsKeptOnlyForTheRetention() throws {
        let rule = OverflowRule(.waited(atLeast: .seconds(30)), to: .node("robot"))
        var acd = try busyACD([QueueConfiguration(name: "q", overflow: [rule])])
        acd.parkRetention = .seconds(60)
        _ = try acd.join(join("c1"), at: at(1))
        _ = acd.tick(at: at(31))
        _ = try acd.join(join("c2"), at: at(40))
        XCTAssertEqual(try acd.join(join("c1"), at: at(100)).joins.first?.position, 2, "kept until 91 only")
    }

    func testOverflowToAFullQueueIsSkipped() throws {
        let rules = [OverflowRule(.waited(atLeast: .seconds(10)), to: .queue("small")),
                     OverflowRule(.waited(atLeast: .seconds(20)), to: .node("robot"))]
        var acd = try busyACD([QueueConfiguration(name: "q", overflow: rules), QueueConfiguration(name: "small", maxLength: 1)],
                              members: ["q": 0])
        _ = try acd.join(join("s1", "small"), at: at(0))
        _ = try acd.join(join("c1"), at: at(1))
        XCTAssertEqual(acd.tick(at: at(11)).lefts.count, 0)
        XCTAssertEqual(acd.queue(of: "c1"), "q")
        let next = try XCTUnwrap(acd.nextDeadline())
        XCTAssertGreaterThan(next, at(11), "a skipped rule must not leave a deadline in the past")
        let actions = acd.tick(at: at(21))
        XCTAssertEqual(actions.lefts.first?.overflow, .node("robot"))
    }

    func testJoinTimeRuleToAFullQueueFallsThroughToTheNextRule() throws {
        let rules = [OverflowRule(.length(above: 1), to: .queue("small")), OverflowRule(.length(above: 1), to: .node("robot"))]
        var acd = try busyACD([QueueConfiguration(name: "q", overflow: rules), QueueConfiguration(name: "small", maxLength: 1)],
                              members: ["q": 0])
        _ = try acd.join(join("c1"), at: at(1))
        XCTAssertEqual(try acd.join(join("c2"), at: at(2)).lefts.first?.overflow, .queue("small"))
        XCTAssertEqual(try acd.join(join("c3"), at: at(3)).lefts.first?.overflow, .node("robot"))
    }

    func testRulesFireOncePerCallerAndQueueEvenWhenQueuesSendCallersToEachOther() throws {
        let queues = [QueueConfiguration(name: "q1", overflow: [OverflowRule(.waited(atLeast: .seconds(10)), to: .queue("q2"))]),
                      QueueConfiguration(name: "q2", overflow: [OverflowRule(.waited(atLeast: .seconds(10)), to: .queue("q1"))])]
        var acd = try busyACD(queues)
        _ = try acd.join(join("c1", "q1"), at: at(1))
        var overflows = 0
        var now = 1.0
        while now < 400, let next = acd.nextDeadline() {
            now = max(now, Double(next.milliseconds) / 1000)
            overflows += acd.tick(at: at(now)).lefts.filter { $0.reason == .overflow }.count
            now += 0.001
        }
        XCTAssertEqual(overflows, 2, "q1 → q2 → q1, then both rules are used up")
        XCTAssertEqual(acd.queue(of: "c1"), nil, "the caller times out in the end")
    }
}
