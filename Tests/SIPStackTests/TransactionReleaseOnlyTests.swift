import XCTest

#if canImport(SIPStack)
@testable import SIPStack
#else
@testable import SIPTransactions
#endif

/// TU programming errors trip `assertionFailure` in debug builds, so they can
/// only be exercised in release builds (`swift test -c release
/// -Xswiftc -enable-testing`), where they must be harmless no-ops.
final class TransactionReleaseOnlyTests: XCTestCase {
    #if !DEBUG
    func testNonFinalStatusCodeInSendFinalIsIgnored() {
        var invite = ServerInviteTransaction<String>(transport: .unreliable)
        XCTAssertEqual(invite.sendFinal("180", statusCode: 180), [])
        XCTAssertEqual(invite.sendFinal("x", statusCode: 99), [])
        XCTAssertEqual(invite.sendFinal("x", statusCode: 700), [])
        XCTAssertEqual(invite.phase, .proceeding)

        var nonInvite = ServerNonInviteTransaction<String>(transport: .unreliable)
        XCTAssertEqual(nonInvite.sendFinal("100", statusCode: 100), [])
        XCTAssertEqual(nonInvite.phase, .trying)
    }

    func testStartTwiceIsIgnored() {
        var nonInvite = ClientNonInviteTransaction<String>(request: "BYE", transport: .unreliable)
        _ = nonInvite.start()
        XCTAssertEqual(nonInvite.start(), [])
        XCTAssertEqual(nonInvite.phase, .trying)

        var invite = ClientInviteTransaction<String, String>(request: "INVITE", transport: .unreliable)
        _ = invite.start()
        XCTAssertEqual(invite.start(), [])
        XCTAssertEqual(invite.phase, .calling)
        _ = invite.timerFired(.B)
        XCTAssertEqual(invite.start(), [])
        XCTAssertTrue(invite.isTerminated)
    }
    #endif
}
