import SIPMessages
import XCTest

@testable import SIPStack

/// RFC 3261 §12: dialog state from both sides, in-dialog request construction with loose and
/// strict routers, remote CSeq ordering; plus INFO key bodies and address blocks.
final class DialogTests: XCTestCase {
    private func request(_ text: String) throws -> SIPRequest {
        let normalized = text.replacingOccurrences(of: "\n", with: "\r\n")
        guard case .request(let r) = try SIPParser().parse(datagram: Array(normalized.utf8)) else {
            struct NotARequest: Error {}
            XCTFail("the test message is not a request")
            throw NotARequest()
        }
        return r
    }

    private let invite = """
        INVITE sip:1002@127.0.0.1:5060 SIP/2.0
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc
        Record-Route: <sip:proxy1.example;lr>
        Record-Route: <sip:proxy2.example;lr>
        From: <sip:1001@127.0.0.1>;tag=caller
        To: <sip:1002@127.0.0.1>
        Call-ID: call-1
        CSeq: 7 INVITE
        Contact: <sip:1001@127.0.0.1:5070>
        Content-Length: 0


        """

    func testUASDialogTakesTheRouteSetInOrderAndTheContactAsTarget() throws {
        var dialog = try XCTUnwrap(Dialog.uas(request: try request(invite), localTag: "me"))
        XCTAssertEqual(dialog.localTag, "me")
        XCTAssertEqual(dialog.remoteTag, "caller")
        XCTAssertEqual(dialog.remoteTarget.description, "sip:1001@127.0.0.1:5070")
        XCTAssertEqual(dialog.remoteSequence, 7)
        let bye = dialog.makeRequest(.bye)
        XCTAssertEqual(bye.uri.description, "sip:1001@127.0.0.1:5070")
        XCTAssertEqual(bye.headers.values("Route"), ["<sip:proxy1.example;lr>", "<sip:proxy2.example;lr>"])
        XCTAssertEqual(bye.cseq?.sequence, 1)
        XCTAssertEqual(bye.from?.tag, "me")
        XCTAssertEqual(bye.to?.tag, "caller")
        XCTAssertEqual(dialog.makeRequest(.info).cseq?.sequence, 2)
        XCTAssertEqual(dialog.makeRequest(.ack, sequence: 1).cseq?.sequence, 1)
        XCTAssertEqual(dialog.nextHop.host, "proxy1.example")
    }

    func testUACDialogReversesTheRouteSet() throws {
        let inv = try request(invite)
        var response = SIPResponse(to: inv, statusCode: 200, toTag: "callee")
        response.headers.add("Record-Route", "<sip:proxy1.example;lr>")
        response.headers.add("Record-Route", "<sip:proxy2.example;lr>")
        response.headers.add("Contact", "<sip:1002@127.0.0.1:5080>")
        var dialog = try XCTUnwrap(Dialog.uac(request: inv, response: response))
        XCTAssertEqual(dialog.remoteTag, "callee")
        XCTAssertEqual(dialog.localTag, "caller")
        let bye = dialog.makeRequest(.bye)
        XCTAssertEqual(bye.headers.values("Route"), ["<sip:proxy2.example;lr>", "<sip:proxy1.example;lr>"])
        XCTAssertEqual(bye.uri.description, "sip:1002@127.0.0.1:5080")
        XCTAssertEqual(bye.cseq?.sequence, 8)
    }

    func testStrictRouterTakesTheRequestURI() throws {
        let text = invite.replacingOccurrences(of: "Record-Route: <sip:proxy1.example;lr>\n", with: "Record-Route: <sip:strict.example>\n")
        var dialog = try XCTUnwrap(Dialog.uas(request: try request(text), localTag: "me"))
        let bye = dialog.makeRequest(.bye)
        XCTAssertEqual(bye.uri.host, "strict.example")
        XCTAssertEqual(bye.headers.values("Route").last, "<sip:1001@127.0.0.1:5070>")
    }

    func testRemoteCSeqMustIncrease() throws {
        var dialog = try XCTUnwrap(Dialog.uas(request: try request(invite), localTag: "me"))
        XCTAssertFalse(dialog.acceptRemoteSequence(7, method: .bye))
        XCTAssertTrue(dialog.acceptRemoteSequence(8, method: .info))
        XCTAssertTrue(dialog.acceptRemoteSequence(8, method: .ack))
        XCTAssertFalse(dialog.acceptRemoteSequence(5, method: .bye))
    }

    func testInfoKeyBodies() {
        XCTAssertEqual(InfoDTMF.parse(Array("Signal=5\r\nDuration=160\r\n".utf8), contentType: "application/dtmf-relay"), "5")
        XCTAssertEqual(InfoDTMF.parse(Array("Signal= #\r\n".utf8), contentType: "application/dtmf-relay"), "#")
        XCTAssertEqual(InfoDTMF.parse(Array("Signal=11\r\n".utf8), contentType: "application/dtmf-relay"), "#")
        XCTAssertEqual(InfoDTMF.parse(Array("a\r\n".utf8), contentType: "application/dtmf"), "A")
        XCTAssertNil(InfoDTMF.parse(Array("Duration=160\r\n".utf8), contentType: "application/dtmf-relay"))
        XCTAssertNil(InfoDTMF.parse(Array("Signal=x\r\n".utf8), contentType: "application/dtmf-relay"))
    }

    func testAddressBlocks() throws {
        let loopback = try XCTUnwrap(IPNetwork("127.0.0.0/8"))
        XCTAssertTrue(loopback.contains("127.0.0.3"))
        XCTAssertFalse(loopback.contains("128.0.0.1"))
        XCTAssertFalse(loopback.contains("::1"))
        let v6 = try XCTUnwrap(IPNetwork("2001:db8::/32"))
        XCTAssertTrue(v6.contains("2001:db8:1::5"))
        XCTAssertFalse(v6.contains("2001:db9::1"))
        XCTAssertTrue(try XCTUnwrap(IPNetwork("10.1.2.3")).contains("10.1.2.3"))
        XCTAssertFalse(try XCTUnwrap(IPNetwork("10.1.2.3")).contains("10.1.2.4"))
        XCTAssertTrue(try XCTUnwrap(IPNetwork("10.1.2.0/23")).contains("10.1.3.200"))
        XCTAssertNil(IPNetwork("10.1.2.0/33"))
        XCTAssertNil(IPNetwork("not-an-address"))
    }
}

final class RegistrarDateTests: XCTestCase {
    func testDateHeaderIsRFC1123GMT() {
        XCTAssertEqual(Registrar.httpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT")
        XCTAssertEqual(Registrar.httpDate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT")
        XCTAssertEqual(Registrar.httpDate(1_795_380_832), "Sun, 22 Nov 2026 20:53:52 GMT")
    }
}
