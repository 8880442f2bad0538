import XCTest
@testable import SIPMessages

final class RFC4475Tests: XCTestCase {
    let parser = SIPParser()

    func testIndexCoversAllFiles() throws {
        let entries = try RFC4475.index()
        XCTAssertEqual(entries.count, 49)
        for e in entries {
            XCTAssertNoThrow(try RFC4475.load(e.file), e.file)
        }
    }

    /// Every message: valid/transaction/application must parse, invalid must throw.
    func testAcceptReject() throws {
        for e in try RFC4475.index() {
            let data = try RFC4475.load(e.file)
            switch e.expected {
            case "valid", "transaction", "application":
                do {
                    _ = try parser.parse(datagram: data)
                } catch {
                    XCTFail("\(e.file) (\(e.section) \(e.title)) should parse but failed: \(error)")
                }
            case "invalid":
                do throws(SIPParseError) {
                    let m = try parser.parse(datagram: data)
                    XCTFail("\(e.file) (\(e.section) \(e.title)) should be rejected but parsed: \(m)")
                } catch {
                    XCTAssertFalse(error.reason.isEmpty, e.file)
                }
            default:
                XCTFail("unknown expectation \(e.expected) for \(e.file)")
            }
        }
    }

    private func request(_ name: String) throws -> SIPRequest {
        try parser.parse(datagram: try RFC4475.load(name)).requestOrFail
    }

    private func error(_ name: String) throws -> SIPParseError {
        let data = try RFC4475.load(name)
        do throws(SIPParseError) {
            _ = try parser.parse(datagram: data)
        } catch {
            return error
        }
        throw TestDataMissing(description: "\(name) unexpectedly parsed")
    }

    func testWsinvDetails() throws {
        let r = try request("wsinv")
        XCTAssertEqual(r.method, .invite)
        XCTAssertEqual(r.uri.user, "vivekg")
        XCTAssertEqual(r.uri.host, "chair-dnrc.example.com")
        XCTAssertEqual(r.uri.parameter("unknownparam"), .some(nil))
        XCTAssertEqual(r.headers["To"], "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
        XCTAssertEqual(r.to?.tag, "1918181833n")
        XCTAssertEqual(r.to?.uri.user, "vivekg")
        XCTAssertNil(r.to?.displayName)
        XCTAssertEqual(r.from?.displayName, "J Rosenberg \\\"")
        XCTAssertEqual(r.from?.tag, "98asjd8")
        XCTAssertEqual(r.from?.uri.user, "jdrosen")
        XCTAssertEqual(r.maxForwards, 68)
        XCTAssertEqual(r.callID, "wsinv.ndaksdj@192.0.2.1")
        XCTAssertEqual(r.cseq, CSeq(sequence: 9, method: .invite))
        XCTAssertEqual(r.headers["Subject"], "")
        XCTAssertEqual(r.headers["s"], "")
        XCTAssertEqual(r.headers["NewFangledHeader"], "newfangled value continued newfangled value")
        XCTAssertEqual(r.headers["unknownheaderwithunusualvalue"], ";;,,;;,;")
        XCTAssertEqual(r.contentType, "application/sdp")
        XCTAssertEqual(r.headers.values("Route"), ["<sip:services.example.com;lr;unknownwith=value;unknown-no-value>"])

        let vias = r.vias
        XCTAssertEqual(vias.count, 3)
        XCTAssertEqual(r.headers.values("v").count, 3)
        XCTAssertEqual(r.headers.rawValues("Via").count, 2)
        XCTAssertEqual(vias.map(\.transport), ["UDP", "TCP", "UDP"])
        XCTAssertEqual(vias.map(\.host), ["192.0.2.2", "spindle.example.com", "192.168.255.111"])
        XCTAssertEqual(vias.map(\.branch), ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"])
        XCTAssertEqual(r.topVia, vias.first)

        let contact = try XCTUnwrap(r.contacts.first)
        XCTAssertEqual(contact.displayName, "Quoted string \"\"")
        XCTAssertEqual(contact.parameter("newparam"), .some("newvalue"))
        XCTAssertEqual(contact.parameter("secondparam"), .some(nil))
        XCTAssertEqual(contact.parameter("q"), .some("0.33"))
        XCTAssertEqual(r.body.count, 150)
        XCTAssertEqual(r.headers.fields.map(\.name).prefix(4), ["To", "From", "Max-Forwards", "Call-ID"])
    }

    func testIntmeth() throws {
        let r = try request("intmeth")
        XCTAssertEqual(r.method, .other("!interesting-Method0123456789_*+`.%indeed'~"))
        XCTAssertEqual(r.cseq?.method, r.method)
        XCTAssertEqual(r.uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        XCTAssertEqual(r.uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        XCTAssertEqual(r.uri.host, "example.com")
        XCTAssertEqual(r.to?.displayName, "BEL:\u{07} NUL:\u{00} DEL:\u{7F}")
        XCTAssertEqual(r.from?.displayName, "token1~` token2'+_ token3*%!.-")
        XCTAssertEqual(r.from?.tag, "_token~1'+`*%!-.")
        XCTAssertEqual(r.callID, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
        XCTAssertEqual(r.headers["extensionHeader-!.%*+_`'~"], "\u{FEFF}\u{5927}\u{505C}\u{96FB}")
    }

    func testEsc01UnescapesURIs() throws {
        let r = try request("esc01")
        XCTAssertEqual(r.uri.user, "sips:user@example.com")
        XCTAssertEqual(r.uri.host, "example.net")
        XCTAssertEqual(r.to?.uri.user, "user")
        XCTAssertEqual(r.from?.uri.user, "I have spaces")
        let contact = try XCTUnwrap(r.contacts.first)
        XCTAssertEqual(contact.uri.user, "caller")
        XCTAssertEqual(contact.uri.parameter("lr"), .some(nil))
        XCTAssertEqual(contact.uri.parameter("name"), .some("value%41"))
        XCTAssertEqual(r.uri.description, "sip:sips%3Auser%40example.com@example.net")
    }

    func testEscnullAndEsc02() throws {
        let r = try request("escnull")
        XCTAssertEqual(r.to?.uri.user, "null-\u{0}-null")
        XCTAssertEqual(r.contacts.map { $0.uri.user }, ["\u{0}", "\u{0}\u{0}"])
        let e = try request("esc02")
        XCTAssertEqual(e.method, .other("RE%47IST%45R"))
        XCTAssertEqual(e.to?.displayName, "%Z%45")
        XCTAssertEqual(e.topVia?.branch, "z9hG4bK209%fzsnel234")
        // "C%6Fntact" is an unknown header name, not Contact.
        XCTAssertEqual(e.contacts.count, 2)
        XCTAssertEqual(e.headers["C%6Fntact"], "<sip:alias2@host2.example.com>")
    }

    func testDblreqIgnoresTrailingOctets() throws {
        let r = try request("dblreq")
        XCTAssertEqual(r.method, .register)
        XCTAssertEqual(r.body, [])
        XCTAssertEqual(r.callID, "dblreq.0ha0isndaksdj99sdfafnl3lk233412")
        XCTAssertNil(r.headers["Content-Type"])
    }

    func testMpart01BodyByteExact() throws {
        let data = try RFC4475.load("mpart01")
        let r = try request("mpart01")
        XCTAssertEqual(r.body.count, 553)
        XCTAssertEqual(r.body, Array(data.suffix(553)))
        XCTAssertTrue(r.body.contains(0))
        XCTAssertNil(String(validating: r.body, as: UTF8.self))
        XCTAssertEqual(r.headers["User-Agent"], "SIPimp.org/0.2.5 (curses)")
        XCTAssertEqual(r.headers.values("Date"), ["Sat, 15 Oct 2005 04:44:56 GMT"])
    }

    func testResponses() throws {
        let u = try parser.parse(datagram: try RFC4475.load("unreason")).responseOrFail
        XCTAssertEqual(u.statusCode, 200)
        XCTAssertTrue(u.reason.hasPrefix("= 2**3 * 5**2 "))
        XCTAssertTrue(u.reason.contains("\u{043D}\u{043E}"))  // Cyrillic "но"
        XCTAssertEqual(u.body.count, 154)
        let n = try parser.parse(datagram: try RFC4475.load("noreason")).responseOrFail
        XCTAssertEqual(n.statusCode, 100)
        XCTAssertEqual(n.reason, "")
    }

    func testSemiuriAndTransports() throws {
        let s = try request("semiuri")
        XCTAssertEqual(s.uri.user, "user;par=u@example.net")
        XCTAssertEqual(s.uri.host, "example.com")
        XCTAssertTrue(s.uri.parameters.isEmpty)
        XCTAssertEqual(s.headers.values("Accept").count, 6)
        let t = try request("transports")
        XCTAssertEqual(t.vias.map(\.transport), ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"])
        let l = try request("longreq")
        XCTAssertEqual(l.vias.count, 34)
        XCTAssertEqual(l.to?.uri.port, 6000)
    }

    func testLwsdisp() throws {
        let r = try request("lwsdisp")
        XCTAssertEqual(r.from?.displayName, "caller")
        XCTAssertEqual(r.from?.tag, "323")
    }

    func testApplicationClassDetails() throws {
        let insuf = try request("insuf")
        XCTAssertNil(insuf.callID)
        XCTAssertNil(insuf.from)
        XCTAssertNil(insuf.to)
        XCTAssertNil(insuf.maxForwards)
        XCTAssertNotNil(insuf.cseq)

        let mcl = try request("mcl01")
        XCTAssertEqual(mcl.headers.values("Content-Length"), ["13", "5"])

        let unkscm = try request("unkscm")
        XCTAssertEqual(unkscm.uri.scheme, "nobodyknowsthisscheme")
        XCTAssertEqual(unkscm.uri.opaque, "totallyopaquecontent")
        XCTAssertFalse(unkscm.uri.isSIP)

        let novelsc = try request("novelsc")
        XCTAssertEqual(novelsc.uri.scheme, "soap.beep")
        XCTAssertEqual(novelsc.uri.description, "soap.beep://192.0.2.103:3002")

        let unksm2 = try request("unksm2")
        XCTAssertEqual(unksm2.to?.uri.scheme, "isbn")
        XCTAssertEqual(unksm2.from?.uri.description, "http://www.example.com")
        XCTAssertEqual(unksm2.contacts.first?.uri.opaque, "John_Smith")

        let regaut = try request("regaut01")
        XCTAssertEqual(regaut.headers.values("Authorization"), ["NoOneKnowsThisScheme opaque-data=here"])

        let cparam01 = try request("cparam01")
        XCTAssertEqual(cparam01.contacts.first?.parameter("unknownparam"), .some(nil))
        XCTAssertTrue(cparam01.contacts.first?.uri.parameters.isEmpty ?? false)
        let cparam02 = try request("cparam02")
        XCTAssertEqual(cparam02.contacts.first?.uri.parameter("unknownparam"), .some(nil))

        let regescrt = try request("regescrt")
        XCTAssertEqual(regescrt.contacts.first?.uri.headers, [URIParameter(name: "Route", value: "<sip:sip.example.com>")])

        let zeromf = try request("zeromf")
        XCTAssertEqual(zeromf.maxForwards, 0)

        let multi = try request("multi01")
        XCTAssertEqual(multi.headers.values("CSeq").count, 2)
        XCTAssertEqual(multi.headers.values("From").count, 2)

        let inv2543 = try request("inv2543")
        XCTAssertNil(inv2543.topVia?.branch)
        XCTAssertEqual(inv2543.body.count, 105)  // no Content-Length: rest of the datagram
        XCTAssertNil(inv2543.headers["Content-Length"])

        let bcast = try parser.parse(datagram: try RFC4475.load("bcast")).responseOrFail
        XCTAssertEqual(bcast.vias.count, 2)
    }

    func testInvalidDetails() throws {
        let badvers = try error("badvers")
        XCTAssertEqual(badvers.kind, .version)
        XCTAssertEqual(badvers.statusCode, 505)
        XCTAssertNotNil(badvers.partialRequest)
        XCTAssertEqual(badvers.partialRequest?.callID, "badvers.31417@c.example.com")

        let mismatch01 = try error("mismatch01")
        XCTAssertEqual(mismatch01.kind, .cseqMismatch)
        XCTAssertEqual(mismatch01.header, "CSeq")
        XCTAssertEqual(mismatch01.statusCode, 400)
        XCTAssertEqual(mismatch01.partialRequest?.method, .options)
        XCTAssertTrue(mismatch01.description.contains("CSeq"))

        let mismatch02 = try error("mismatch02")
        XCTAssertEqual(mismatch02.header, "CSeq")

        let scalar02 = try error("scalar02")
        XCTAssertEqual(scalar02.header, "CSeq")
        XCTAssertEqual(scalar02.reason, "sequence number exceeds 2^31-1")
        XCTAssertNotNil(scalar02.partialRequest)

        XCTAssertEqual(try error("clerr").kind, .contentLength)
        XCTAssertNotNil(try error("clerr").partialRequest)
        XCTAssertEqual(try error("ncl").header, "Content-Length")
        XCTAssertEqual(try error("baddate").header, "Date")
        XCTAssertEqual(try error("regbadct").header, "Contact")
        XCTAssertEqual(try error("badaspec").header, "To")
        XCTAssertEqual(try error("baddn").header, "From")
        XCTAssertEqual(try error("quotbal").header, "To")
        XCTAssertEqual(try error("badinv01").header, "Via")
        XCTAssertEqual(try error("ltgtruri").kind, .uri)
        XCTAssertEqual(try error("lwsruri").kind, .uri)
        XCTAssertEqual(try error("escruri").kind, .uri)
        XCTAssertEqual(try error("lwsstart").kind, .startLine)
        XCTAssertEqual(try error("trws").kind, .startLine)
        XCTAssertNotNil(try error("trws").partialRequest)
        XCTAssertEqual(try error("bigcode").kind, .startLine)
        XCTAssertNil(try error("bigcode").partialRequest)
        XCTAssertEqual(try error("scalarlg").header, "CSeq")
    }
}
