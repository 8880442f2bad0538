import XCTest
@testable import SIPMessages

final class ParserTests: XCTestCase {
    let parser = SIPParser()
    let head = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"

    func testLeadingCRLFsAreSkipped() throws {
        let m = try parser.parse(datagram: bytes("\r\n\r\n" + head + "Content-Length: 0\r\n\r\n"))
        XCTAssertEqual(try m.requestOrFail.method, .invite)
    }

    func testEmptyAndKeepAlive() {
        for input in ["", "\r\n\r\n", "\r\n"] {
            XCTAssertThrowsError(try parser.parse(datagram: bytes(input))) { error in
                XCTAssertEqual((error as? SIPParseError)?.kind, .empty)
            }
        }
    }

    func testTruncated() {
        XCTAssertThrowsError(try parser.parse(datagram: bytes("INVITE sip:bob@example.com SIP/2.0"))) { error in
            XCTAssertEqual((error as? SIPParseError)?.kind, .truncated)
        }
        XCTAssertThrowsError(try parser.parse(datagram: bytes(head))) { error in
            XCTAssertEqual((error as? SIPParseError)?.kind, .truncated)
        }
    }

    func testLimits() {
        var limits = SIPParser.Limits()
        limits.maxHeaderCount = 5
        XCTAssertThrowsError(try SIPParser(limits: limits).parse(datagram: bytes(head + "Content-Length: 0\r\n\r\n"))) { error in
            XCTAssertEqual((error as? SIPParseError)?.kind, .tooManyHeaders)
            XCTAssertEqual((error as? SIPParseError)?.statusCode, 513)
        }
        limits = SIPParser.Limits()
        limits.maxHeaderLineLength = 100
        let long = head + "Subject: " + String(repeating: "x", count: 200) + "\r\n\r\n"
        XCTAssertThrowsError(try SIPParser(limits: limits).parse(datagram: bytes(long))) { error in
            XCTAssertEqual((error as? SIPParseError)?.kind, .tooLarge)
            XCTAssertEqual((error as? SIPParseError)?.header, "Subject")
        }
        limits = SIPParser.Limits()
        limits.maxMessageSize = 100
        XCTAssertThrowsError(try SIPParser(limits: limits).parse(datagram: bytes(long))) { error in
            XCTAssertEqual((error as? SIPParseError)?.kind, .tooLarge)
        }
    }

    func testStartLineErrors() {
        let tail = "\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"
        for line in ["INVITE sip:a@b SIP/2.0 ", "INVITE  sip:a@b SIP/2.0", "INVITE sip:a@b  SIP/2.0",
                     "INVITE sip:a@b", "INVITE", "INV@TE sip:a@b SIP/2.0", "INVITE <sip:a@b> SIP/2.0",
                     "INVITE sip:a@b SIP/2.0x", "SIP/2.0 99 Low", "SIP/2.0 700 High", "SIP/2.0 20 OK",
                     "SIP/2.0 2000 OK", "SIP/2.0", "SIP/2.0 200OK", "SIP/1.0 200 OK", " INVITE sip:a@b SIP/2.0",
                     "INVITE sip:a@b HTTP/1.1"] {
            XCTAssertThrowsError(try parser.parse(datagram: bytes(line + tail)), line)
        }
        XCTAssertThrowsError(try parser.parse(datagram: bytes("OPTIONS sip:a@b SIP/2.1" + tail))) { error in
            XCTAssertEqual((error as? SIPParseError)?.statusCode, 505)
        }
    }

    func testResponseParsing() throws {
        let r = try parser.parse(datagram: bytes("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@c>;tag=9\r\nContent-Length: 0\r\n\r\n")).responseOrFail
        XCTAssertEqual(r.statusCode, 180)
        XCTAssertEqual(r.reason, "Ringing")
        XCTAssertEqual(r.to?.tag, "9")
    }

    func testLatin1Fallback() throws {
        var data = bytes("SIP/2.0 200 Caf")
        data.append(0xE9) // ISO-8859-1 "é", invalid as UTF-8
        data += bytes("\r\nSubject: na")
        data.append(0xEF)
        data += bytes("ve\r\nContent-Length: 0\r\n\r\n")
        let r = try parser.parse(datagram: data).responseOrFail
        XCTAssertEqual(r.reason, "Café")
        XCTAssertEqual(r.headers["Subject"], "naïve")
    }

    func testBareLineFeedsRejected() {
        XCTAssertThrowsError(try parser.parse(datagram: bytes("OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\n\n")))
        XCTAssertThrowsError(try parser.parse(datagram: bytes(head + "Subject: a\rb\r\n\r\n")))
    }

    func testPartialRequestOnlyWhenRoutable() throws {
        // Routable: bad Max-Forwards.
        do throws(SIPParseError) {
            _ = try parser.parse(datagram: bytes(head + "Max-Forwards: 256\r\n\r\n"))
            XCTFail("should throw")
        } catch {
            XCTAssertEqual(error.header, "Max-Forwards")
            guard let partial = error.partialRequest else { return XCTFail("no partial request") }
            XCTAssertEqual(partial.callID, "c1")
            let response = SIPResponse(to: partial, statusCode: error.statusCode)
            XCTAssertEqual(response.statusCode, 400)
            XCTAssertEqual(response.headers["Call-ID"], "c1")
        }
        // Not routable: no Call-ID.
        do throws(SIPParseError) {
            _ = try parser.parse(datagram: bytes("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nExpires: x\r\n\r\n"))
            XCTFail("should throw")
        } catch {
            XCTAssertEqual(error.header, "Expires")
            XCTAssertNil(error.partialRequest)
        }
    }

    func testFoldedAndCompactHeaders() throws {
        let text = "OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\n ;branch=z9hG4bK1\r\ni: abc\r\nSubject: line one\r\n\tline two\r\n  line three\r\nl: 0\r\n\r\n"
        let r = try parser.parse(datagram: bytes(text)).requestOrFail
        XCTAssertEqual(r.topVia?.branch, "z9hG4bK1")
        XCTAssertEqual(r.callID, "abc")
        XCTAssertEqual(r.headers["Subject"], "line one line two line three")
        XCTAssertEqual(r.headers.fields.map(\.name), ["Via", "Call-ID", "Subject", "Content-Length"])
    }

    func testValuesWithColonsAndMissingColon() throws {
        XCTAssertThrowsError(try parser.parse(datagram: bytes(head + "NoColonHere\r\n\r\n")))
        XCTAssertThrowsError(try parser.parse(datagram: bytes(head + "Bad Name: x\r\n\r\n")))
        XCTAssertThrowsError(try parser.parse(datagram: bytes(head + ": x\r\n\r\n")))
        let r = try parser.parse(datagram: bytes(head + "X-Url: http://a:80/b\r\n\r\n")).requestOrFail
        XCTAssertEqual(r.headers["X-Url"], "http://a:80/b")
    }
}

final class ResponseBuilderTests: XCTestCase {
    func testResponseToRequestCopiesViasAndAddsTag() throws {
        let text = "INVITE sip:bob@example.com SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1\r\n"
            + "Via: SIP/2.0/TCP p2.example.com;branch=z9hG4bK2, SIP/2.0/UDP ua.example.com;branch=z9hG4bK3;rport\r\n"
            + "Max-Forwards: 70\r\n"
            + "From: Alice <sip:alice@example.com>;tag=a1\r\n"
            + "To: Bob <sip:bob@example.com>\r\n"
            + "Call-ID: call-1@ua\r\n"
            + "CSeq: 314159 INVITE\r\n"
            + "Contact: <sip:alice@ua.example.com>\r\n"
            + "Content-Type: application/sdp\r\n"
            + "Content-Length: 4\r\n\r\nv=0\n"
        let request = try SIPParser().parse(datagram: bytes(text)).requestOrFail
        let response = SIPResponse(to: request, statusCode: 180, toTag: "b2")
        XCTAssertEqual(response.reason, "Ringing")
        XCTAssertEqual(response.vias.map(\.branch), ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"])
        XCTAssertEqual(response.headers.rawValues("Via").count, 2)
        XCTAssertEqual(response.from?.tag, "a1")
        XCTAssertEqual(response.to?.tag, "b2")
        XCTAssertEqual(response.to?.displayName, "Bob")
        XCTAssertEqual(response.callID, "call-1@ua")
        XCTAssertEqual(response.cseq, CSeq(sequence: 314159, method: .invite))
        XCTAssertEqual(response.headers["Content-Length"], "0")
        XCTAssertNil(response.headers["Contact"])
        XCTAssertNil(response.headers["Max-Forwards"])
        XCTAssertEqual(response.body, [])

        // Existing To tag is kept; custom reason.
        let again = SIPResponse(to: SIPRequest(method: .bye, uri: request.uri, headers: response.headers), statusCode: 200, reason: "Fine", toTag: "zz")
        XCTAssertEqual(again.to?.tag, "b2")
        XCTAssertEqual(again.reason, "Fine")

        // Serialized response parses back.
        let parsed = try SIPParser().parse(datagram: response.serialize()).responseOrFail
        XCTAssertEqual(parsed, response)
    }

    func testReasonPhrases() {
        XCTAssertEqual(SIPResponse.reasonPhrase(for: 200), "OK")
        XCTAssertEqual(SIPResponse.reasonPhrase(for: 481), "Call/Transaction Does Not Exist")
        XCTAssertEqual(SIPResponse.reasonPhrase(for: 499), "Client Error")
        XCTAssertEqual(SIPResponse(statusCode: 603).reason, "Decline")
    }
}
