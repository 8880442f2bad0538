import XCTest

#if canImport(SIPStack)
@testable import SIPStack
#else
@testable import SIPTransactions
#endif

final class TransactionKeyTests: XCTestCase {
    func testServerKeyMapsACKToINVITEButNotCANCEL() {
        let sentBy = TransactionKey.normalizedSentBy(host: "PBX.Example.COM", port: 5060)
        XCTAssertEqual(sentBy, "pbx.example.com:5060")
        let invite = TransactionKey.server(branch: "z9hG4bK776asdhds", method: "INVITE", sentBy: sentBy)
        let ack = TransactionKey.server(branch: "z9hG4bK776asdhds", method: "ACK", sentBy: sentBy)
        let cancel = TransactionKey.server(branch: "z9hG4bK776asdhds", method: "CANCEL", sentBy: sentBy)
        XCTAssertNotNil(invite)
        XCTAssertEqual(invite, ack)
        XCTAssertNotEqual(invite, cancel)
        XCTAssertEqual(cancel?.method, "CANCEL")
    }

    func testServerKeyDistinguishesSentByAndBranch() {
        let a = TransactionKey.server(branch: "z9hG4bKa", method: "BYE", sentBy: "10.0.0.1:5060")
        let b = TransactionKey.server(branch: "z9hG4bKa", method: "BYE", sentBy: "10.0.0.2:5060")
        let c = TransactionKey.server(branch: "z9hG4bKb", method: "BYE", sentBy: "10.0.0.1:5060")
        let d = TransactionKey.server(branch: "z9hG4bKA", method: "BYE", sentBy: "10.0.0.1:5060")
        XCTAssertEqual(Set([a, b, c, d].compactMap { $0 }).count, 4)
    }

    func testNonCookieBranchNeedsRFC2543Matching() {
        XCTAssertNil(TransactionKey.server(branch: "1234", method: "INVITE", sentBy: "h:5060"))
        XCTAssertNil(TransactionKey.server(branch: "", method: "INVITE", sentBy: "h:5060"))
        XCTAssertNil(TransactionKey.server(branch: "Z9HG4BKabc", method: "INVITE", sentBy: "h:5060"))
        XCTAssertFalse(TransactionKey.isRFC3261Branch("z9hG4b"))
        XCTAssertTrue(TransactionKey.isRFC3261Branch("z9hG4bK"))
    }

    func testClientKey() {
        let key = TransactionKey.client(branch: "z9hG4bKout1", cseqMethod: "BYE")
        XCTAssertEqual(key, TransactionKey(branch: "z9hG4bKout1", method: "BYE", sentBy: ""))
        XCTAssertNotEqual(key, TransactionKey.client(branch: "z9hG4bKout1", cseqMethod: "CANCEL"))
    }

    func testMatchingMethod() {
        XCTAssertEqual(TransactionKey.matchingMethod(forServerRequestMethod: "ACK"), "INVITE")
        XCTAssertEqual(TransactionKey.matchingMethod(forServerRequestMethod: "INVITE"), "INVITE")
        XCTAssertEqual(TransactionKey.matchingMethod(forServerRequestMethod: "CANCEL"), "CANCEL")
        XCTAssertEqual(TransactionKey.matchingMethod(forServerRequestMethod: "OPTIONS"), "OPTIONS")
    }

    func testTimerDefaults() {
        let timers = TransactionTimers()
        XCTAssertEqual(timers.t1, ms(500))
        XCTAssertEqual(timers.t2, sec(4))
        XCTAssertEqual(timers.t4, sec(5))
        XCTAssertEqual(timers.transactionTimeout, sec(32))
        XCTAssertEqual(timers.timerDUnreliable, sec(32))
        XCTAssertEqual(TransactionTimers(t1: sec(1)).timerDUnreliable, sec(64))
    }
}
