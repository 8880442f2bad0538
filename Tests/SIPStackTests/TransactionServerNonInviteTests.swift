import XCTest

#if canImport(SIPStack)
@testable import SIPStack
#else
@testable import SIPTransactions
#endif

final class TransactionServerNonInviteTests: XCTestCase {
    typealias Txn = ServerNonInviteTransaction<String>

    // MARK: - Happy paths

    func testUnreliableFinalDirectlyFromTrying() {
        var txn = Txn(transport: .unreliable)
        XCTAssertEqual(txn.phase, .trying)
        XCTAssertTrue(txn.canSendFinalResponse)
        XCTAssertEqual(txn.sendFinal("200", statusCode: 200), [.send("200"), .startTimer(.J, after: sec(32))])
        XCTAssertEqual(txn.phase, .completed)
        XCTAssertFalse(txn.canSendFinalResponse)
        XCTAssertEqual(txn.timerFired(.J), [.terminated(.normal)])
        XCTAssertTrue(txn.isTerminated)
    }

    func testUnreliableWithProvisional() {
        var txn = Txn(transport: .unreliable)
        XCTAssertEqual(txn.sendProvisional("100"), [.send("100")])
        XCTAssertEqual(txn.phase, .proceeding)
        XCTAssertEqual(txn.sendProvisional("180"), [.send("180")])
        XCTAssertEqual(txn.sendFinal("481", statusCode: 481), [.send("481"), .startTimer(.J, after: sec(32))])
        XCTAssertEqual(txn.timerFired(.J), [.terminated(.normal)])
    }

    func testReliableTerminatesOnFinal() {
        var txn = Txn(transport: .reliable)
        XCTAssertEqual(txn.sendFinal("200", statusCode: 200), [.send("200"), .terminated(.normal)])
        XCTAssertTrue(txn.isTerminated)

        var withProvisional = Txn(transport: .reliable)
        XCTAssertEqual(withProvisional.sendProvisional("100"), [.send("100")])
        XCTAssertEqual(withProvisional.sendFinal("404", statusCode: 404), [.send("404"), .terminated(.normal)])
    }

    func testTimerJUsesCustomT1() {
        var txn = Txn(transport: .unreliable, timers: TransactionTimers(t1: ms(200)))
        XCTAssertEqual(txn.sendFinal("200", statusCode: 200), [.send("200"), .startTimer(.J, after: ms(12_800))])
    }

    // MARK: - Retransmissions per state

    func testRetransmissionInTryingIsAbsorbed() {
        var txn = Txn(transport: .unreliable)
        XCTAssertEqual(txn.receivedRequestRetransmission(), [])
        XCTAssertEqual(txn.receivedRequestRetransmission(), [])
        XCTAssertEqual(txn.phase, .trying)
    }

    func testRetransmissionInProceedingResendsLastProvisional() {
        var txn = Txn(transport: .unreliable)
        _ = txn.sendProvisional("100")
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("100")])
        _ = txn.sendProvisional("183")
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("183")])
        XCTAssertEqual(txn.phase, .proceeding)
    }

    func testRetransmissionInCompletedResendsFinal() {
        var txn = Txn(transport: .unreliable)
        _ = txn.sendProvisional("100")
        _ = txn.sendFinal("200", statusCode: 200)
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("200")])
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("200")])
        XCTAssertEqual(txn.phase, .completed)
    }

    func testRetransmissionAfterTerminationIsIgnored() {
        var txn = Txn(transport: .reliable)
        _ = txn.sendFinal("200", statusCode: 200)
        XCTAssertEqual(txn.receivedRequestRetransmission(), [])
    }

    // MARK: - Late / duplicate TU responses

    func testSecondFinalAndLateProvisionalAreDiscarded() {
        var txn = Txn(transport: .unreliable)
        _ = txn.sendFinal("200", statusCode: 200)
        XCTAssertEqual(txn.sendFinal("500", statusCode: 500), [])
        XCTAssertEqual(txn.sendProvisional("100"), [])
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("200")])

        var terminated = Txn(transport: .reliable)
        _ = terminated.sendFinal("200", statusCode: 200)
        XCTAssertEqual(terminated.sendFinal("200", statusCode: 200), [])
        XCTAssertEqual(terminated.sendProvisional("100"), [])
    }

    // MARK: - Transport errors

    func testTransportErrorInEachState() {
        var trying = Txn(transport: .unreliable)
        XCTAssertEqual(trying.transportError(), [.transportError, .terminated(.transportError)])

        var proceeding = Txn(transport: .unreliable)
        _ = proceeding.sendProvisional("100")
        XCTAssertEqual(proceeding.transportError(), [.transportError, .terminated(.transportError)])

        var completed = Txn(transport: .unreliable)
        _ = completed.sendFinal("200", statusCode: 200)
        XCTAssertEqual(completed.transportError(), [.cancelTimer(.J), .transportError, .terminated(.transportError)])
        XCTAssertEqual(completed.transportError(), [])
        XCTAssertEqual(completed.timerFired(.J), [])
    }

    // MARK: - Stale timers

    func testTimersThatAreNotRunningAreIgnored() {
        var txn = Txn(transport: .unreliable)
        for timer in TransactionTimer.allCases {
            XCTAssertEqual(txn.timerFired(timer), [], "\(timer)")
        }
        _ = txn.sendProvisional("100")
        for timer in TransactionTimer.allCases {
            XCTAssertEqual(txn.timerFired(timer), [], "\(timer)")
        }
        _ = txn.sendFinal("200", statusCode: 200)
        for timer in TransactionTimer.allCases where timer != .J {
            XCTAssertEqual(txn.timerFired(timer), [], "\(timer)")
        }
        XCTAssertEqual(txn.phase, .completed)
        _ = txn.timerFired(.J)
        for timer in TransactionTimer.allCases {
            XCTAssertEqual(txn.timerFired(timer), [], "\(timer)")
        }
    }

    // MARK: - Randomised robustness

    func testRandomInputSequencesKeepInvariants() {
        for seed in 0..<300 {
            var rng = TransactionTestRNG(seed: UInt64(seed))
            let transport: TransportKind = seed.isMultiple(of: 2) ? .unreliable : .reliable
            var txn = Txn(transport: transport)
            var wheel = VirtualTimerWheel()
            for step in 0..<40 {
                let wasTerminated = txn.isTerminated
                let actions: [Txn.Action]
                switch Int.random(in: 0..<7, using: &rng) {
                case 0, 1: actions = txn.receivedRequestRetransmission()
                case 2: actions = txn.transportError()
                case 3: actions = txn.sendProvisional("1xx-\(step)")
                case 4: actions = txn.sendFinal("final-\(step)", statusCode: 200)
                case 5:
                    actions = wheel.popNext().map { txn.timerFired($0) } ?? []
                default:
                    let timer = TransactionTimer.allCases.randomElement(using: &rng)!
                    wheel.markFired(timer)
                    actions = txn.timerFired(timer)
                }
                wheel.apply(actions)
                if wasTerminated {
                    XCTAssertEqual(actions, [], "seed \(seed) step \(step)")
                }
                if txn.phase == .completed {
                    XCTAssertEqual(wheel.running, [.J], "seed \(seed) step \(step)")
                }
            }
        }
    }
}
