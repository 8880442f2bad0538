import XCTest

#if canImport(SIPStack)
@testable import SIPStack
#else
@testable import SIPTransactions
#endif

final class TransactionServerInviteTests: XCTestCase {
    typealias Txn = ServerInviteTransaction<String>

    // MARK: - Happy paths

    func testUnreliableNon2xxFullPath() {
        var txn = Txn(transport: .unreliable)
        XCTAssertEqual(txn.phase, .proceeding)
        XCTAssertTrue(txn.canSendFinalResponse)
        XCTAssertEqual(txn.sendProvisional("100"), [.send("100")])
        XCTAssertEqual(txn.sendProvisional("180"), [.send("180")])
        XCTAssertEqual(
            txn.sendFinal("486", statusCode: 486),
            [.send("486"), .startTimer(.G, after: ms(500)), .startTimer(.H, after: sec(32))]
        )
        XCTAssertEqual(txn.phase, .completed)
        XCTAssertFalse(txn.canSendFinalResponse)
        XCTAssertEqual(txn.receivedACK(), [.cancelTimer(.G), .cancelTimer(.H), .startTimer(.I, after: sec(5))])
        XCTAssertEqual(txn.phase, .confirmed)
        XCTAssertEqual(txn.timerFired(.I), [.terminated(.normal)])
        XCTAssertEqual(txn.phase, .terminated)
        XCTAssertTrue(txn.isTerminated)
    }

    func testReliableNon2xxFullPathTerminatesOnACK() {
        var txn = Txn(transport: .reliable)
        XCTAssertEqual(txn.sendProvisional("100"), [.send("100")])
        // No Timer G on reliable transports; Timer H still runs.
        XCTAssertEqual(txn.sendFinal("404", statusCode: 404), [.send("404"), .startTimer(.H, after: sec(32))])
        // Timer I is zero: the ACK terminates at once.
        XCTAssertEqual(txn.receivedACK(), [.cancelTimer(.H), .terminated(.normal)])
        XCTAssertTrue(txn.isTerminated)
    }

    func testUnreliable2xxAcceptedPath() {
        var txn = Txn(transport: .unreliable)
        XCTAssertEqual(txn.sendProvisional("100"), [.send("100")])
        XCTAssertEqual(txn.sendFinal("200", statusCode: 200), [.send("200"), .startTimer(.L, after: sec(32))])
        XCTAssertEqual(txn.phase, .accepted)
        XCTAssertFalse(txn.canSendFinalResponse)
        // Retransmitted INVITEs are absorbed, not answered, not passed up.
        XCTAssertEqual(txn.receivedRequestRetransmission(), [])
        // The TU retransmits its 2xx through the transaction.
        XCTAssertEqual(txn.sendFinal("200", statusCode: 200), [.send("200")])
        // Every ACK goes to the TU.
        XCTAssertEqual(txn.receivedACK(), [.passACKToTU])
        XCTAssertEqual(txn.receivedACK(), [.passACKToTU])
        XCTAssertEqual(txn.phase, .accepted)
        XCTAssertEqual(txn.timerFired(.L), [.terminated(.normal)])
        XCTAssertTrue(txn.isTerminated)
    }

    func testReliable2xxAcceptedPathStillUsesTimerL() {
        var txn = Txn(transport: .reliable)
        XCTAssertEqual(txn.sendFinal("200", statusCode: 200), [.send("200"), .startTimer(.L, after: sec(32))])
        XCTAssertEqual(txn.receivedRequestRetransmission(), [])
        XCTAssertEqual(txn.receivedACK(), [.passACKToTU])
        XCTAssertEqual(txn.timerFired(.L), [.terminated(.normal)])
    }

    func testAllFinalStatusClassesPickTheRightState() {
        for code in [200, 202, 299] {
            var txn = Txn(transport: .unreliable)
            _ = txn.sendFinal("x", statusCode: code)
            XCTAssertEqual(txn.phase, .accepted, "\(code)")
        }
        for code in [300, 404, 487, 500, 603, 699] {
            var txn = Txn(transport: .unreliable)
            _ = txn.sendFinal("x", statusCode: code)
            XCTAssertEqual(txn.phase, .completed, "\(code)")
        }
    }

    func testFinalWithoutAnyProvisional() {
        var txn = Txn(transport: .unreliable)
        XCTAssertEqual(txn.receivedRequestRetransmission(), [])
        XCTAssertEqual(
            txn.sendFinal("603", statusCode: 603),
            [.send("603"), .startTimer(.G, after: ms(500)), .startTimer(.H, after: sec(32))]
        )
    }

    // MARK: - Timer G / H

    func testTimerGBackoffUntilTimerH() {
        var txn = Txn(transport: .unreliable)
        var wheel = VirtualTimerWheel()
        wheel.apply(txn.sendProvisional("100"))
        wheel.apply(txn.sendFinal("486", statusCode: 486))

        var retransmitTimes: [Duration] = []
        var gIntervals: [Duration] = [ms(500)]
        var last: [Txn.Action] = []
        while let timer = wheel.popNext() {
            let actions = txn.timerFired(timer)
            wheel.apply(actions)
            switch timer {
            case .G:
                XCTAssertEqual(actions.first, .send("486"))
                retransmitTimes.append(wheel.now)
                if case .startTimer(.G, let after) = actions.last {
                    gIntervals.append(after)
                } else {
                    XCTFail("G not restarted: \(actions)")
                }
            case .H:
                last = actions
            default:
                XCTFail("unexpected timer \(timer)")
            }
        }
        XCTAssertEqual(
            gIntervals,
            [ms(500), sec(1), sec(2), sec(4), sec(4), sec(4), sec(4), sec(4), sec(4), sec(4), sec(4)]
        )
        XCTAssertEqual(
            retransmitTimes,
            [ms(500), ms(1500), ms(3500), ms(7500), ms(11_500), ms(15_500), ms(19_500), ms(23_500), ms(27_500), ms(31_500)]
        )
        XCTAssertEqual(wheel.now, sec(32))
        XCTAssertEqual(last, [.cancelTimer(.G), .timeout, .terminated(.timeout)])
        XCTAssertTrue(txn.isTerminated)
        XCTAssertEqual(wheel.running, [])
    }

    func testTimerGBackoffWithCustomTimers() {
        let timers = TransactionTimers(t1: ms(100), t2: ms(300), t4: sec(1))
        var txn = Txn(transport: .unreliable, timers: timers)
        XCTAssertEqual(
            txn.sendFinal("500", statusCode: 500),
            [.send("500"), .startTimer(.G, after: ms(100)), .startTimer(.H, after: ms(6400))]
        )
        XCTAssertEqual(txn.timerFired(.G), [.send("500"), .startTimer(.G, after: ms(200))])
        XCTAssertEqual(txn.timerFired(.G), [.send("500"), .startTimer(.G, after: ms(300))])
        XCTAssertEqual(txn.timerFired(.G), [.send("500"), .startTimer(.G, after: ms(300))])
        XCTAssertEqual(txn.receivedACK(), [.cancelTimer(.G), .cancelTimer(.H), .startTimer(.I, after: sec(1))])
    }

    func testTimerHOnReliableTransport() {
        var txn = Txn(transport: .reliable)
        _ = txn.sendFinal("480", statusCode: 480)
        XCTAssertEqual(txn.timerFired(.G), [], "G never runs on reliable transports")
        XCTAssertEqual(txn.phase, .completed)
        XCTAssertEqual(txn.timerFired(.H), [.timeout, .terminated(.timeout)])
        XCTAssertTrue(txn.isTerminated)
    }

    func testACKAfterSomeRetransmissionsStopsThem() {
        var txn = Txn(transport: .unreliable)
        var wheel = VirtualTimerWheel()
        wheel.apply(txn.sendFinal("486", statusCode: 486))
        XCTAssertEqual(wheel.popNext(), .G)
        wheel.apply(txn.timerFired(.G))
        XCTAssertEqual(wheel.popNext(), .G)
        wheel.apply(txn.timerFired(.G))
        let ack = txn.receivedACK()
        XCTAssertEqual(ack, [.cancelTimer(.G), .cancelTimer(.H), .startTimer(.I, after: sec(5))])
        wheel.apply(ack)
        XCTAssertEqual(wheel.running, [.I])
        XCTAssertEqual(wheel.popNext(), .I)
        wheel.apply(txn.timerFired(.I))
        XCTAssertTrue(txn.isTerminated)
    }

    // MARK: - Retransmitted INVITEs per state

    func testRetransmittedINVITEInProceedingResendsLastProvisional() {
        var txn = Txn(transport: .unreliable)
        XCTAssertEqual(txn.receivedRequestRetransmission(), [], "nothing to resend before the first 1xx")
        _ = txn.sendProvisional("100")
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("100")])
        _ = txn.sendProvisional("180")
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("180")])
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("180")])
        _ = txn.sendProvisional("183")
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("183")])
        XCTAssertEqual(txn.phase, .proceeding)
    }

    func testRetransmittedINVITEInCompletedResendsFinal() {
        for transport in [TransportKind.unreliable, .reliable] {
            var txn = Txn(transport: transport)
            _ = txn.sendProvisional("180")
            _ = txn.sendFinal("486", statusCode: 486)
            XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("486")])
            XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("486")])
            XCTAssertEqual(txn.phase, .completed)
        }
    }

    func testRetransmittedINVITEInAcceptedConfirmedTerminatedIsAbsorbed() {
        var accepted = Txn(transport: .unreliable)
        _ = accepted.sendProvisional("180")
        _ = accepted.sendFinal("200", statusCode: 200)
        XCTAssertEqual(accepted.receivedRequestRetransmission(), [])

        var confirmed = Txn(transport: .unreliable)
        _ = confirmed.sendFinal("486", statusCode: 486)
        _ = confirmed.receivedACK()
        XCTAssertEqual(confirmed.phase, .confirmed)
        XCTAssertEqual(confirmed.receivedRequestRetransmission(), [])
        XCTAssertEqual(confirmed.phase, .confirmed)

        var terminated = Txn(transport: .reliable)
        _ = terminated.sendFinal("486", statusCode: 486)
        _ = terminated.receivedACK()
        XCTAssertTrue(terminated.isTerminated)
        XCTAssertEqual(terminated.receivedRequestRetransmission(), [])
    }

    // MARK: - ACK in every state

    func testACKInProceedingIsIgnored() {
        var txn = Txn(transport: .unreliable)
        XCTAssertEqual(txn.receivedACK(), [])
        _ = txn.sendProvisional("180")
        XCTAssertEqual(txn.receivedACK(), [])
        XCTAssertEqual(txn.phase, .proceeding)
        // The transaction still works normally afterwards.
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("180")])
    }

    func testDuplicateACKInConfirmedIsAbsorbed() {
        var txn = Txn(transport: .unreliable)
        _ = txn.sendFinal("486", statusCode: 486)
        _ = txn.receivedACK()
        XCTAssertEqual(txn.receivedACK(), [])
        XCTAssertEqual(txn.receivedACK(), [])
        XCTAssertEqual(txn.phase, .confirmed)
        XCTAssertEqual(txn.timerFired(.I), [.terminated(.normal)])
        XCTAssertEqual(txn.receivedACK(), [])
    }

    // MARK: - Transport errors

    func testTransportErrorInProceeding() {
        var txn = Txn(transport: .unreliable)
        _ = txn.sendProvisional("100")
        XCTAssertEqual(txn.transportError(), [.transportError, .terminated(.transportError)])
        XCTAssertTrue(txn.isTerminated)
        XCTAssertEqual(txn.transportError(), [])
    }

    func testTransportErrorInCompleted() {
        var unreliable = Txn(transport: .unreliable)
        _ = unreliable.sendFinal("486", statusCode: 486)
        XCTAssertEqual(
            unreliable.transportError(),
            [.cancelTimer(.G), .cancelTimer(.H), .transportError, .terminated(.transportError)]
        )
        var reliable = Txn(transport: .reliable)
        _ = reliable.sendFinal("486", statusCode: 486)
        XCTAssertEqual(reliable.transportError(), [.cancelTimer(.H), .transportError, .terminated(.transportError)])
    }

    func testTransportErrorInAcceptedInformsTUButKeepsAbsorbing() {
        var txn = Txn(transport: .unreliable)
        _ = txn.sendFinal("200", statusCode: 200)
        XCTAssertEqual(txn.transportError(), [.transportError])
        XCTAssertEqual(txn.phase, .accepted)
        XCTAssertEqual(txn.receivedRequestRetransmission(), [])
        XCTAssertEqual(txn.timerFired(.L), [.terminated(.normal)])
    }

    func testTransportErrorInConfirmedIsIgnored() {
        var txn = Txn(transport: .unreliable)
        _ = txn.sendFinal("486", statusCode: 486)
        _ = txn.receivedACK()
        XCTAssertEqual(txn.transportError(), [])
        XCTAssertEqual(txn.phase, .confirmed)
    }

    // MARK: - Late / duplicate TU responses (discarded, no assertion)

    func testSecondFinalInCompletedIsDiscarded() {
        var txn = Txn(transport: .unreliable)
        _ = txn.sendFinal("487", statusCode: 487)
        XCTAssertEqual(txn.sendFinal("200", statusCode: 200), [])
        XCTAssertEqual(txn.sendFinal("487", statusCode: 487), [])
        XCTAssertEqual(txn.sendProvisional("180"), [])
        XCTAssertEqual(txn.receivedRequestRetransmission(), [.send("487")], "the first final stays")
    }

    func testNon2xxFinalOrProvisionalInAcceptedIsDiscarded() {
        var txn = Txn(transport: .unreliable)
        _ = txn.sendFinal("200", statusCode: 200)
        XCTAssertEqual(txn.sendFinal("487", statusCode: 487), [])
        XCTAssertEqual(txn.sendProvisional("180"), [])
        XCTAssertEqual(txn.phase, .accepted)
    }

    func testResponsesAfterTerminationAreDiscarded() {
        var txn = Txn(transport: .unreliable)
        _ = txn.transportError()
        XCTAssertEqual(txn.sendProvisional("180"), [])
        XCTAssertEqual(txn.sendFinal("200", statusCode: 200), [])
        XCTAssertEqual(txn.sendFinal("486", statusCode: 486), [])
        XCTAssertEqual(txn.receivedACK(), [])
        XCTAssertEqual(txn.receivedRequestRetransmission(), [])
        XCTAssertTrue(txn.isTerminated)
    }

    // MARK: - Stale timers

    func testTimersThatAreNotRunningAreIgnoredInEveryState() {
        func assertIgnores(_ txn: Txn, except running: Set<TransactionTimer>, line: UInt = #line) {
            for timer in TransactionTimer.allCases where !running.contains(timer) {
                var copy = txn
                XCTAssertEqual(copy.timerFired(timer), [], "\(timer)", line: line)
                XCTAssertEqual(copy.phase, txn.phase, line: line)
            }
        }
        var txn = Txn(transport: .unreliable)
        assertIgnores(txn, except: [])
        _ = txn.sendProvisional("100")
        assertIgnores(txn, except: [])

        var completed = txn
        _ = completed.sendFinal("486", statusCode: 486)
        assertIgnores(completed, except: [.G, .H])
        _ = completed.receivedACK()
        assertIgnores(completed, except: [.I])
        _ = completed.timerFired(.I)
        assertIgnores(completed, except: [])

        var accepted = txn
        _ = accepted.sendFinal("200", statusCode: 200)
        assertIgnores(accepted, except: [.L])
        _ = accepted.timerFired(.L)
        assertIgnores(accepted, except: [])

        var reliableCompleted = Txn(transport: .reliable)
        _ = reliableCompleted.sendFinal("486", statusCode: 486)
        assertIgnores(reliableCompleted, except: [.H])
    }

    func testTimerHAfterACKIsIgnored() {
        // Timer H racing its cancellation after the ACK arrived.
        var txn = Txn(transport: .unreliable)
        _ = txn.sendFinal("486", statusCode: 486)
        _ = txn.receivedACK()
        XCTAssertEqual(txn.timerFired(.H), [])
        XCTAssertEqual(txn.timerFired(.G), [])
        XCTAssertEqual(txn.phase, .confirmed)
    }

    // MARK: - Randomised robustness

    /// Drives the machine with random network, timer and (valid) TU inputs and
    /// checks the owner-facing invariants. Never traps.
    func testRandomInputSequencesKeepInvariants() {
        for seed in 0..<300 {
            var rng = TransactionTestRNG(seed: UInt64(seed))
            let transport: TransportKind = seed.isMultiple(of: 2) ? .unreliable : .reliable
            var txn = Txn(transport: transport)
            var wheel = VirtualTimerWheel()
            for step in 0..<60 {
                let wasTerminated = txn.isTerminated
                let actions: [Txn.Action]
                switch Int.random(in: 0..<9, using: &rng) {
                case 0: actions = txn.receivedRequestRetransmission()
                case 1: actions = txn.receivedACK()
                case 2: actions = txn.transportError()
                case 3: actions = txn.sendProvisional("1xx-\(step)")
                case 4:
                    let code = [200, 486, 603, 302].randomElement(using: &rng)!
                    actions = txn.sendFinal("\(code)-\(step)", statusCode: code)
                case 5, 6:
                    // A due timer fires.
                    if let timer = wheel.popNext() {
                        actions = txn.timerFired(timer)
                    } else {
                        actions = []
                    }
                default:
                    // Any timer fires, possibly stale.
                    let timer = TransactionTimer.allCases.randomElement(using: &rng)!
                    wheel.markFired(timer)
                    actions = txn.timerFired(timer)
                }
                wheel.apply(actions)
                if wasTerminated {
                    XCTAssertEqual(actions, [], "seed \(seed) step \(step)")
                }
                if actions.contains(where: \.isTerminatedAction) {
                    XCTAssertTrue(txn.isTerminated)
                }
                // Liveness: every state after the final response has a timer
                // that will end it.
                switch txn.phase {
                case .completed, .accepted, .confirmed:
                    XCTAssertFalse(wheel.running.isEmpty, "seed \(seed) step \(step): \(txn.phase) without timers")
                case .proceeding, .terminated:
                    break
                }
            }
        }
    }
}
