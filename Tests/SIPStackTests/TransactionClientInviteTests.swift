import XCTest

#if canImport(SIPStack)
@testable import SIPStack
#else
@testable import SIPTransactions
#endif

final class TransactionClientInviteTests: XCTestCase {
    typealias Txn = ClientInviteTransaction<String, String>

    /// Counts how often the machine asks for an ACK.
    final class ACKFactory {
        var calls: [Int] = []
        func make(_ code: Int) -> () -> String {
            { [self] in
                self.calls.append(code)
                return "ACK-\(code)"
            }
        }
    }

    private func noACK() -> String {
        XCTFail("ACK must not be built here")
        return "unexpected"
    }

    // MARK: - Happy paths

    func testUnreliable2xxPath() {
        var txn = Txn(request: "INVITE", transport: .unreliable)
        XCTAssertEqual(txn.phase, .idle)
        XCTAssertEqual(txn.start(), [.send("INVITE"), .startTimer(.A, after: ms(500)), .startTimer(.B, after: sec(32))])
        XCTAssertEqual(txn.phase, .calling)
        XCTAssertEqual(
            txn.receivedResponse(statusCode: 100, makeACK: self.noACK),
            [.cancelTimer(.A), .cancelTimer(.B), .passResponseToTU]
        )
        XCTAssertEqual(txn.phase, .proceeding)
        XCTAssertEqual(txn.receivedResponse(statusCode: 180, makeACK: self.noACK), [.passResponseToTU])
        XCTAssertEqual(
            txn.receivedResponse(statusCode: 200, makeACK: self.noACK),
            [.passResponseToTU, .startTimer(.M, after: sec(32))]
        )
        XCTAssertEqual(txn.phase, .accepted)
        // Retransmitted and forked 2xx all reach the TU.
        XCTAssertEqual(txn.receivedResponse(statusCode: 200, makeACK: self.noACK), [.passResponseToTU])
        XCTAssertEqual(txn.receivedResponse(statusCode: 202, makeACK: self.noACK), [.passResponseToTU])
        // Non-2xx and provisionals in Accepted are dropped.
        XCTAssertEqual(txn.receivedResponse(statusCode: 486, makeACK: self.noACK), [])
        XCTAssertEqual(txn.receivedResponse(statusCode: 180, makeACK: self.noACK), [])
        XCTAssertEqual(txn.timerFired(.M), [.terminated(.normal)])
        XCTAssertTrue(txn.isTerminated)
    }

    func test2xxDirectlyInCalling() {
        var unreliable = Txn(request: "INVITE", transport: .unreliable)
        _ = unreliable.start()
        XCTAssertEqual(
            unreliable.receivedResponse(statusCode: 200, makeACK: self.noACK),
            [.cancelTimer(.A), .cancelTimer(.B), .passResponseToTU, .startTimer(.M, after: sec(32))]
        )
        var reliable = Txn(request: "INVITE", transport: .reliable)
        XCTAssertEqual(reliable.start(), [.send("INVITE"), .startTimer(.B, after: sec(32))])
        XCTAssertEqual(
            reliable.receivedResponse(statusCode: 200, makeACK: self.noACK),
            [.cancelTimer(.B), .passResponseToTU, .startTimer(.M, after: sec(32))]
        )
        XCTAssertEqual(reliable.timerFired(.M), [.terminated(.normal)])
    }

    func testUnreliableNon2xxPathGeneratesACKOnce() {
        let factory = ACKFactory()
        var txn = Txn(request: "INVITE", transport: .unreliable)
        _ = txn.start()
        _ = txn.receivedResponse(statusCode: 180, makeACK: self.noACK)
        XCTAssertEqual(
            txn.receivedResponse(statusCode: 486, makeACK: factory.make(486)),
            [.sendACK("ACK-486"), .passResponseToTU, .startTimer(.D, after: sec(32))]
        )
        XCTAssertEqual(txn.phase, .completed)
        // Retransmitted final: same ACK again, not passed to the TU, not rebuilt.
        XCTAssertEqual(txn.receivedResponse(statusCode: 486, makeACK: factory.make(486)), [.sendACK("ACK-486")])
        XCTAssertEqual(txn.receivedResponse(statusCode: 486, makeACK: factory.make(486)), [.sendACK("ACK-486")])
        XCTAssertEqual(factory.calls, [486])
        // Provisional / 2xx in Completed are dropped.
        XCTAssertEqual(txn.receivedResponse(statusCode: 180, makeACK: self.noACK), [])
        XCTAssertEqual(txn.receivedResponse(statusCode: 200, makeACK: self.noACK), [])
        XCTAssertEqual(txn.timerFired(.D), [.terminated(.normal)])
        XCTAssertTrue(txn.isTerminated)
        XCTAssertEqual(txn.receivedResponse(statusCode: 486, makeACK: self.noACK), [])
    }

    func testNon2xxDirectlyInCalling() {
        let factory = ACKFactory()
        var txn = Txn(request: "INVITE", transport: .unreliable)
        _ = txn.start()
        XCTAssertEqual(
            txn.receivedResponse(statusCode: 503, makeACK: factory.make(503)),
            [.cancelTimer(.A), .cancelTimer(.B), .sendACK("ACK-503"), .passResponseToTU, .startTimer(.D, after: sec(32))]
        )
    }

    func testReliableNon2xxTerminatesImmediately() {
        let factory = ACKFactory()
        var txn = Txn(request: "INVITE", transport: .reliable)
        _ = txn.start()
        XCTAssertEqual(
            txn.receivedResponse(statusCode: 404, makeACK: factory.make(404)),
            [.cancelTimer(.B), .sendACK("ACK-404"), .passResponseToTU, .terminated(.normal)]
        )
        XCTAssertTrue(txn.isTerminated)
        XCTAssertEqual(factory.calls, [404])
    }

    func testTimerDIsAtLeast32sAndFollows64T1() {
        var fast = Txn(request: "INVITE", transport: .unreliable, timers: TransactionTimers(t1: ms(100)))
        _ = fast.start()
        XCTAssertEqual(fast.receivedResponse(statusCode: 486) { "ACK" }.last, .startTimer(.D, after: sec(32)))

        var slow = Txn(request: "INVITE", transport: .unreliable, timers: TransactionTimers(t1: sec(1)))
        _ = slow.start()
        XCTAssertEqual(slow.receivedResponse(statusCode: 486) { "ACK" }.last, .startTimer(.D, after: sec(64)))
    }

    // MARK: - Timer A / B

    func testTimerABackoffUntilTimerB() {
        var txn = Txn(request: "INVITE", transport: .unreliable)
        var wheel = VirtualTimerWheel()
        wheel.apply(txn.start())
        var sendTimes: [Duration] = [.zero]
        var last: [Txn.Action] = []
        while let timer = wheel.popNext() {
            let actions = txn.timerFired(timer)
            wheel.apply(actions)
            if timer == .A {
                XCTAssertEqual(actions.first, .send("INVITE"))
                sendTimes.append(wheel.now)
            } else {
                XCTAssertEqual(timer, .B)
                last = actions
            }
        }
        // Intervals 0.5, 1, 2, 4, 8, 16 (no T2 cap); the next would be at 63.5 s.
        XCTAssertEqual(sendTimes, [.zero, ms(500), ms(1500), ms(3500), ms(7500), ms(15_500), ms(31_500)])
        XCTAssertEqual(wheel.now, sec(32))
        XCTAssertEqual(last, [.cancelTimer(.A), .timeout, .terminated(.timeout)])
        XCTAssertTrue(txn.isTerminated)
    }

    func testTimerAIntervalsDoubleWithoutT2Cap() {
        var txn = Txn(request: "INVITE", transport: .unreliable)
        _ = txn.start()
        let expected: [Duration] = [sec(1), sec(2), sec(4), sec(8), sec(16)]
        for interval in expected {
            XCTAssertEqual(txn.timerFired(.A), [.send("INVITE"), .startTimer(.A, after: interval)])
        }
    }

    func testTimerBOnReliable() {
        var txn = Txn(request: "INVITE", transport: .reliable)
        _ = txn.start()
        XCTAssertEqual(txn.timerFired(.A), [], "A never runs on reliable transports")
        XCTAssertEqual(txn.timerFired(.B), [.timeout, .terminated(.timeout)])
    }

    func testTimersAAndBIgnoredAfterProvisional() {
        var txn = Txn(request: "INVITE", transport: .unreliable)
        _ = txn.start()
        _ = txn.receivedResponse(statusCode: 100, makeACK: self.noACK)
        XCTAssertEqual(txn.timerFired(.A), [])
        XCTAssertEqual(txn.timerFired(.B), [])
        XCTAssertEqual(txn.phase, .proceeding)
    }

    // MARK: - Transport errors

    func testTransportErrors() {
        var calling = Txn(request: "INVITE", transport: .unreliable)
        _ = calling.start()
        XCTAssertEqual(
            calling.transportError(),
            [.cancelTimer(.A), .cancelTimer(.B), .transportError, .terminated(.transportError)]
        )

        var callingReliable = Txn(request: "INVITE", transport: .reliable)
        _ = callingReliable.start()
        XCTAssertEqual(callingReliable.transportError(), [.cancelTimer(.B), .transportError, .terminated(.transportError)])

        var proceeding = Txn(request: "INVITE", transport: .unreliable)
        _ = proceeding.start()
        _ = proceeding.receivedResponse(statusCode: 180, makeACK: self.noACK)
        XCTAssertEqual(proceeding.transportError(), [])
        XCTAssertEqual(proceeding.phase, .proceeding)

        var completed = Txn(request: "INVITE", transport: .unreliable)
        _ = completed.start()
        _ = completed.receivedResponse(statusCode: 486) { "ACK" }
        XCTAssertEqual(completed.transportError(), [.cancelTimer(.D), .transportError, .terminated(.transportError)])

        var accepted = Txn(request: "INVITE", transport: .unreliable)
        _ = accepted.start()
        _ = accepted.receivedResponse(statusCode: 200, makeACK: self.noACK)
        XCTAssertEqual(accepted.transportError(), [])
        XCTAssertEqual(accepted.phase, .accepted)

        var idle = Txn(request: "INVITE", transport: .unreliable)
        XCTAssertEqual(idle.transportError(), [])
    }

    // MARK: - abandon()

    func testAbandonInEachState() {
        var idle = Txn(request: "INVITE", transport: .unreliable)
        XCTAssertEqual(idle.abandon(), [])
        XCTAssertEqual(idle.phase, .idle)

        var calling = Txn(request: "INVITE", transport: .unreliable)
        _ = calling.start()
        XCTAssertEqual(calling.abandon(), [.cancelTimer(.A), .cancelTimer(.B), .terminated(.abandonedByTU)])

        var proceeding = Txn(request: "INVITE", transport: .unreliable)
        _ = proceeding.start()
        _ = proceeding.receivedResponse(statusCode: 180, makeACK: self.noACK)
        XCTAssertEqual(proceeding.abandon(), [.terminated(.abandonedByTU)])
        XCTAssertEqual(proceeding.abandon(), [])

        var completed = Txn(request: "INVITE", transport: .unreliable)
        _ = completed.start()
        _ = completed.receivedResponse(statusCode: 487) { "ACK" }
        XCTAssertEqual(completed.abandon(), [.cancelTimer(.D), .terminated(.abandonedByTU)])

        var accepted = Txn(request: "INVITE", transport: .reliable)
        _ = accepted.start()
        _ = accepted.receivedResponse(statusCode: 200, makeACK: self.noACK)
        XCTAssertEqual(accepted.abandon(), [.cancelTimer(.M), .terminated(.abandonedByTU)])
    }

    // MARK: - Odd network input

    func testResponsesBeforeStartAndInvalidCodesAreIgnored() {
        var txn = Txn(request: "INVITE", transport: .unreliable)
        XCTAssertEqual(txn.receivedResponse(statusCode: 200, makeACK: self.noACK), [])
        XCTAssertEqual(txn.receivedResponse(statusCode: 486, makeACK: self.noACK), [])
        XCTAssertEqual(txn.phase, .idle)
        _ = txn.start()
        for code in [0, 42, 99, 700, 1000] {
            XCTAssertEqual(txn.receivedResponse(statusCode: code, makeACK: self.noACK), [], "\(code)")
        }
        XCTAssertEqual(txn.phase, .calling)
    }

    func testStaleTimersAreIgnored() {
        var txn = Txn(request: "INVITE", transport: .unreliable)
        for timer in TransactionTimer.allCases {
            XCTAssertEqual(txn.timerFired(timer), [], "idle \(timer)")
        }
        _ = txn.start()
        for timer in TransactionTimer.allCases where timer != .A && timer != .B {
            XCTAssertEqual(txn.timerFired(timer), [], "calling \(timer)")
        }
        _ = txn.receivedResponse(statusCode: 486) { "ACK" }
        for timer in TransactionTimer.allCases where timer != .D {
            XCTAssertEqual(txn.timerFired(timer), [], "completed \(timer)")
        }
        XCTAssertEqual(txn.phase, .completed)
        _ = txn.timerFired(.D)
        for timer in TransactionTimer.allCases {
            XCTAssertEqual(txn.timerFired(timer), [], "terminated \(timer)")
        }
    }

    // MARK: - Randomised robustness

    func testRandomInputSequencesKeepInvariants() {
        for seed in 0..<300 {
            var rng = TransactionTestRNG(seed: UInt64(seed))
            let transport: TransportKind = seed.isMultiple(of: 2) ? .unreliable : .reliable
            var txn = Txn(request: "INVITE", transport: transport)
            var wheel = VirtualTimerWheel()
            wheel.apply(txn.start())
            var ackBuilds = 0
            for step in 0..<50 {
                let wasTerminated = txn.isTerminated
                let actions: [Txn.Action]
                switch Int.random(in: 0..<8, using: &rng) {
                case 0, 1, 2:
                    let code = [100, 180, 200, 200, 486, 487, 0, 700].randomElement(using: &rng)!
                    actions = txn.receivedResponse(statusCode: code) {
                        ackBuilds += 1
                        return "ACK-\(code)"
                    }
                case 3: actions = txn.transportError()
                case 4, 5:
                    actions = wheel.popNext().map { txn.timerFired($0) } ?? []
                default:
                    let timer = TransactionTimer.allCases.randomElement(using: &rng)!
                    wheel.markFired(timer)
                    actions = txn.timerFired(timer)
                }
                wheel.apply(actions)
                XCTAssertLessThanOrEqual(ackBuilds, 1, "seed \(seed) step \(step)")
                if wasTerminated {
                    XCTAssertEqual(actions, [], "seed \(seed) step \(step)")
                }
                switch txn.phase {
                case .calling:
                    XCTAssertTrue(wheel.running.contains(.B), "seed \(seed) step \(step)")
                case .completed:
                    XCTAssertEqual(wheel.running, [.D], "seed \(seed) step \(step)")
                case .accepted:
                    XCTAssertEqual(wheel.running, [.M], "seed \(seed) step \(step)")
                case .proceeding, .terminated:
                    XCTAssertEqual(wheel.running, [], "seed \(seed) step \(step)")
                case .idle:
                    XCTFail("idle after start()")
                }
            }
        }
    }
}
