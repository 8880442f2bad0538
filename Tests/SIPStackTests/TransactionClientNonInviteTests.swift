import XCTest

#if canImport(SIPStack)
@testable import SIPStack
#else
@testable import SIPTransactions
#endif

final class TransactionClientNonInviteTests: XCTestCase {
    typealias Txn = ClientNonInviteTransaction<String>

    // MARK: - Happy paths

    func testUnreliableFinalInTrying() {
        var txn = Txn(request: "BYE", transport: .unreliable)
        XCTAssertEqual(txn.phase, .idle)
        XCTAssertEqual(
            txn.start(),
            [.send("BYE"), .startTimer(.E, after: ms(500)), .startTimer(.F, after: sec(32))]
        )
        XCTAssertEqual(txn.phase, .trying)
        XCTAssertEqual(
            txn.receivedResponse(statusCode: 200),
            [.cancelTimer(.E), .cancelTimer(.F), .passResponseToTU, .startTimer(.K, after: sec(5))]
        )
        XCTAssertEqual(txn.phase, .completed)
        XCTAssertEqual(txn.timerFired(.K), [.terminated(.normal)])
        XCTAssertTrue(txn.isTerminated)
    }

    func testUnreliableProvisionalThenFinal() {
        var txn = Txn(request: "OPTIONS", transport: .unreliable)
        _ = txn.start()
        XCTAssertEqual(txn.receivedResponse(statusCode: 100), [.passResponseToTU])
        XCTAssertEqual(txn.phase, .proceeding)
        XCTAssertEqual(txn.receivedResponse(statusCode: 180), [.passResponseToTU])
        XCTAssertEqual(
            txn.receivedResponse(statusCode: 404),
            [.cancelTimer(.E), .cancelTimer(.F), .passResponseToTU, .startTimer(.K, after: sec(5))]
        )
        XCTAssertEqual(txn.timerFired(.K), [.terminated(.normal)])
    }

    func testReliablePaths() {
        var txn = Txn(request: "BYE", transport: .reliable)
        XCTAssertEqual(txn.start(), [.send("BYE"), .startTimer(.F, after: sec(32))])
        XCTAssertEqual(txn.receivedResponse(statusCode: 100), [.passResponseToTU])
        // Timer K is zero on reliable transports: terminate at once.
        XCTAssertEqual(
            txn.receivedResponse(statusCode: 200),
            [.cancelTimer(.F), .passResponseToTU, .terminated(.normal)]
        )
        XCTAssertTrue(txn.isTerminated)

        var direct = Txn(request: "BYE", transport: .reliable)
        _ = direct.start()
        XCTAssertEqual(
            direct.receivedResponse(statusCode: 481),
            [.cancelTimer(.F), .passResponseToTU, .terminated(.normal)]
        )
    }

    func testTimerKUsesT4() {
        var txn = Txn(request: "BYE", transport: .unreliable, timers: TransactionTimers(t4: sec(2)))
        _ = txn.start()
        XCTAssertEqual(txn.receivedResponse(statusCode: 200).last, .startTimer(.K, after: sec(2)))
    }

    // MARK: - Timer E / F

    func testTimerEBackoffInTryingUntilTimerF() {
        var txn = Txn(request: "OPTIONS", transport: .unreliable)
        var wheel = VirtualTimerWheel()
        wheel.apply(txn.start())
        var sendTimes: [Duration] = [.zero]
        var eIntervals: [Duration] = [ms(500)]
        var last: [Txn.Action] = []
        while let timer = wheel.popNext() {
            let actions = txn.timerFired(timer)
            wheel.apply(actions)
            if timer == .E {
                XCTAssertEqual(actions.first, .send("OPTIONS"))
                sendTimes.append(wheel.now)
                if case .startTimer(.E, let after) = actions.last { eIntervals.append(after) }
            } else {
                XCTAssertEqual(timer, .F)
                last = actions
            }
        }
        XCTAssertEqual(
            eIntervals,
            [ms(500), sec(1), sec(2), sec(4), sec(4), sec(4), sec(4), sec(4), sec(4), sec(4), sec(4)]
        )
        XCTAssertEqual(
            sendTimes,
            [.zero, ms(500), ms(1500), ms(3500), ms(7500), ms(11_500), ms(15_500), ms(19_500),
             ms(23_500), ms(27_500), ms(31_500)]
        )
        XCTAssertEqual(wheel.now, sec(32))
        XCTAssertEqual(last, [.cancelTimer(.E), .timeout, .terminated(.timeout)])
        XCTAssertTrue(txn.isTerminated)
    }

    func testTimerEIsT2AfterProvisional() {
        var txn = Txn(request: "BYE", transport: .unreliable)
        var wheel = VirtualTimerWheel()
        wheel.apply(txn.start())
        XCTAssertEqual(wheel.popNext(), .E) // t = 0.5
        let first = txn.timerFired(.E)
        XCTAssertEqual(first, [.send("BYE"), .startTimer(.E, after: sec(1))])
        wheel.apply(first)
        wheel.advance(to: ms(700))
        XCTAssertEqual(txn.receivedResponse(statusCode: 100), [.passResponseToTU])
        // The running E keeps its interval; when it fires in Proceeding it is reset to T2.
        XCTAssertEqual(wheel.popNext(), .E) // t = 1.5
        let actions = txn.timerFired(.E)
        XCTAssertEqual(actions, [.send("BYE"), .startTimer(.E, after: sec(4))])
        wheel.apply(actions)
        XCTAssertEqual(txn.timerFired(.E), [.send("BYE"), .startTimer(.E, after: sec(4))])
        XCTAssertEqual(txn.phase, .proceeding)
    }

    func testTimerEWithCustomT2InProceeding() {
        var txn = Txn(request: "BYE", transport: .unreliable, timers: TransactionTimers(t1: ms(100), t2: ms(250)))
        _ = txn.start()
        XCTAssertEqual(txn.timerFired(.E), [.send("BYE"), .startTimer(.E, after: ms(200))])
        XCTAssertEqual(txn.timerFired(.E), [.send("BYE"), .startTimer(.E, after: ms(250))])
        _ = txn.receivedResponse(statusCode: 100)
        XCTAssertEqual(txn.timerFired(.E), [.send("BYE"), .startTimer(.E, after: ms(250))])
    }

    func testTimerFInProceeding() {
        var txn = Txn(request: "BYE", transport: .unreliable)
        _ = txn.start()
        _ = txn.receivedResponse(statusCode: 100)
        XCTAssertEqual(txn.timerFired(.F), [.cancelTimer(.E), .timeout, .terminated(.timeout)])
        XCTAssertTrue(txn.isTerminated)
    }

    func testTimerFOnReliable() {
        var txn = Txn(request: "BYE", transport: .reliable)
        _ = txn.start()
        XCTAssertEqual(txn.timerFired(.E), [], "E never runs on reliable transports")
        XCTAssertEqual(txn.timerFired(.F), [.timeout, .terminated(.timeout)])
    }

    // MARK: - Odd network input

    func testRetransmittedFinalInCompletedIsAbsorbed() {
        var txn = Txn(request: "BYE", transport: .unreliable)
        _ = txn.start()
        _ = txn.receivedResponse(statusCode: 200)
        XCTAssertEqual(txn.receivedResponse(statusCode: 200), [])
        XCTAssertEqual(txn.receivedResponse(statusCode: 500), [])
        XCTAssertEqual(txn.receivedResponse(statusCode: 100), [])
        XCTAssertEqual(txn.phase, .completed)
    }

    func testProvisionalAfterProvisionalStaysInProceeding() {
        var txn = Txn(request: "BYE", transport: .unreliable)
        _ = txn.start()
        _ = txn.receivedResponse(statusCode: 100)
        XCTAssertEqual(txn.receivedResponse(statusCode: 100), [.passResponseToTU])
        XCTAssertEqual(txn.phase, .proceeding)
    }

    func testInvalidStatusCodesAreIgnored() {
        var txn = Txn(request: "BYE", transport: .unreliable)
        XCTAssertEqual(txn.receivedResponse(statusCode: 200), [], "before start()")
        XCTAssertEqual(txn.phase, .idle)
        _ = txn.start()
        for code in [0, 99, 700, 999, -1] {
            XCTAssertEqual(txn.receivedResponse(statusCode: code), [], "\(code)")
        }
        XCTAssertEqual(txn.phase, .trying)
        _ = txn.receivedResponse(statusCode: 100)
        for code in [0, 99, 700] {
            XCTAssertEqual(txn.receivedResponse(statusCode: code), [], "\(code)")
        }
        XCTAssertEqual(txn.phase, .proceeding)
    }

    func testResponsesAfterTerminationAreIgnored() {
        var txn = Txn(request: "BYE", transport: .unreliable)
        _ = txn.start()
        _ = txn.timerFired(.F)
        XCTAssertEqual(txn.receivedResponse(statusCode: 200), [])
        XCTAssertEqual(txn.receivedResponse(statusCode: 100), [])
        XCTAssertEqual(txn.transportError(), [])
        for timer in TransactionTimer.allCases {
            XCTAssertEqual(txn.timerFired(timer), [])
        }
    }

    // MARK: - Transport errors

    func testTransportErrorInTryingAndProceeding() {
        var trying = Txn(request: "BYE", transport: .unreliable)
        _ = trying.start()
        XCTAssertEqual(
            trying.transportError(),
            [.cancelTimer(.E), .cancelTimer(.F), .transportError, .terminated(.transportError)]
        )

        var proceeding = Txn(request: "BYE", transport: .reliable)
        _ = proceeding.start()
        _ = proceeding.receivedResponse(statusCode: 100)
        XCTAssertEqual(proceeding.transportError(), [.cancelTimer(.F), .transportError, .terminated(.transportError)])
    }

    func testTransportErrorInIdleAndCompletedIsIgnored() {
        var txn = Txn(request: "BYE", transport: .unreliable)
        XCTAssertEqual(txn.transportError(), [])
        XCTAssertEqual(txn.phase, .idle)
        _ = txn.start()
        _ = txn.receivedResponse(statusCode: 200)
        XCTAssertEqual(txn.transportError(), [])
        XCTAssertEqual(txn.phase, .completed)
    }

    // MARK: - Stale timers

    func testTimersThatAreNotRunningAreIgnored() {
        var txn = Txn(request: "BYE", transport: .unreliable)
        for timer in TransactionTimer.allCases {
            XCTAssertEqual(txn.timerFired(timer), [], "idle \(timer)")
        }
        XCTAssertEqual(txn.phase, .idle)
        _ = txn.start()
        for timer in TransactionTimer.allCases where timer != .E && timer != .F {
            XCTAssertEqual(txn.timerFired(timer), [], "trying \(timer)")
        }
        _ = txn.receivedResponse(statusCode: 200)
        for timer in TransactionTimer.allCases where timer != .K {
            XCTAssertEqual(txn.timerFired(timer), [], "completed \(timer)")
        }
        XCTAssertEqual(txn.phase, .completed)
    }

    // MARK: - Randomised robustness

    func testRandomInputSequencesKeepInvariants() {
        for seed in 0..<300 {
            var rng = TransactionTestRNG(seed: UInt64(seed))
            let transport: TransportKind = seed.isMultiple(of: 2) ? .unreliable : .reliable
            var txn = Txn(request: "REQ", transport: transport)
            var wheel = VirtualTimerWheel()
            wheel.apply(txn.start())
            for step in 0..<50 {
                let wasTerminated = txn.isTerminated
                let actions: [Txn.Action]
                switch Int.random(in: 0..<7, using: &rng) {
                case 0, 1:
                    let code = [100, 180, 200, 404, 503, 0, 700].randomElement(using: &rng)!
                    actions = txn.receivedResponse(statusCode: code)
                case 2: actions = txn.transportError()
                case 3, 4, 5:
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
                if !txn.isTerminated {
                    XCTAssertTrue(wheel.running.contains(txn.phase == .completed ? .K : .F), "seed \(seed) step \(step)")
                }
            }
        }
    }
}
