import XCTest
@testable import SIPMessages

final class URITests: XCTestCase {
    func testBasicSIPURI() throws {
        let u = try SIPURI.parse("SIP:Alice@Example.COM:5070;Transport=TCP;lr?Subject=hi%20there&Priority=urgent")
        XCTAssertEqual(u.scheme, "sip")
        XCTAssertEqual(u.user, "Alice")
        XCTAssertEqual(u.host, "example.com")
        XCTAssertEqual(u.port, 5070)
        XCTAssertEqual(u.parameter("transport"), .some("TCP"))
        XCTAssertEqual(u.parameter("LR"), .some(nil))
        XCTAssertTrue(u.parameter("maddr") == nil)
        XCTAssertEqual(u.headers, [URIParameter(name: "Subject", value: "hi there"), URIParameter(name: "Priority", value: "urgent")])
        XCTAssertEqual(u.description, "sip:Alice@example.com:5070;transport=TCP;lr?Subject=hi%20there&Priority=urgent")
        XCTAssertEqual(try SIPURI.parse(u.description), u)
    }

    func testIPv6Hosts() throws {
        let u = try SIPURI.parse("sips:bob@[2001:DB8::1]:5061;transport=tls")
        XCTAssertEqual(u.scheme, "sips")
        XCTAssertEqual(u.host, "2001:db8::1")
        XCTAssertEqual(u.port, 5061)
        XCTAssertEqual(u.description, "sips:bob@[2001:db8::1]:5061;transport=tls")
        let v = try SIPURI.parse("sip:[::1]")
        XCTAssertEqual(v.host, "::1")
        XCTAssertNil(v.port)
        XCTAssertEqual(SIPURI(host: "fe80::1", port: 5060).description, "sip:[fe80::1]:5060")
        XCTAssertThrowsError(try SIPURI.parse("sip:[::1"))
        XCTAssertThrowsError(try SIPURI.parse("sip:[zz::1]"))
    }

    func testEscapedUserAndPassword() throws {
        let u = try SIPURI.parse("sip:a%40b%3Ac:p%40ss@example.com")
        XCTAssertEqual(u.user, "a@b:c")
        XCTAssertEqual(u.password, "p@ss")
        XCTAssertEqual(u.description, "sip:a%40b%3Ac:p%40ss@example.com")
        var built = SIPURI(user: "john doe", host: "example.com")
        built.password = "x"
        XCTAssertEqual(built.description, "sip:john%20doe:x@example.com")
        XCTAssertEqual(try SIPURI.parse(built.description), built)
        let tel = try SIPURI.parse("sip:+1-212-555-1212;phone-context=example.com@gw.example.com;user=phone")
        XCTAssertEqual(tel.user, "+1-212-555-1212;phone-context=example.com")
        XCTAssertEqual(tel.parameter("user"), .some("phone"))
        // A "%" that is not an escape is kept literally.
        XCTAssertEqual(try SIPURI.parse("sip:100%@example.com").user, "100%")
    }

    func testOpaqueSchemes() throws {
        let t = try SIPURI.parse("tel:+1-201-555-0123;phone-context=x")
        XCTAssertEqual(t.scheme, "tel")
        XCTAssertEqual(t.opaque, "+1-201-555-0123;phone-context=x")
        XCTAssertEqual(t.description, "tel:+1-201-555-0123;phone-context=x")
        XCTAssertFalse(t.isSIP)
        XCTAssertEqual(try SIPURI.parse("urn:service:sos").scheme, "urn")
    }

    func testInvalidURIs() {
        for bad in ["", "sip:", "sip:@host", "sip:user@", "sip:host:99999", "sip:host:abc", "sip:ho st",
                    "sip:host;;lr", "sip:host;=x", "sip:host?", "sip:host?=v", "nocolon", "1sip:host",
                    "sip:user@host>", "sip:us\"er@host", "tel:", "sip:host\u{7F}"] {
            XCTAssertThrowsError(try SIPURI.parse(bad), bad)
        }
    }

    func testParameterMutation() throws {
        var u = SIPURI(host: "proxy.example.com")
        u.setParameter("lr", nil)
        u.setParameter("Transport", "udp")
        XCTAssertEqual(u.description, "sip:proxy.example.com;lr;transport=udp")
        u.removeParameter("LR")
        XCTAssertEqual(u.description, "sip:proxy.example.com;transport=udp")
    }
}

final class ViaTests: XCTestCase {
    func testBasicVia() throws {
        let v = try Via.parse("SIP/2.0/udp pc33.Atlanta.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1")
        XCTAssertEqual(v.transport, "UDP")
        XCTAssertEqual(v.host, "pc33.atlanta.com")
        XCTAssertEqual(v.port, 5066)
        XCTAssertEqual(v.branch, "z9hG4bK776asdhds")
        XCTAssertEqual(v.received, "192.0.2.1")
        XCTAssertTrue(v.rport == nil)
        XCTAssertEqual(v.description, "SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1")
        XCTAssertEqual(try Via.parse(v.description), v)
    }

    func testRportForms() throws {
        let absent = try Via.parse("SIP/2.0/UDP h;branch=z9hG4bK1")
        XCTAssertTrue(absent.rport == nil)
        let empty = try Via.parse("SIP/2.0/UDP h;rport;branch=z9hG4bK1")
        XCTAssertEqual(empty.rport, .some(nil))
        let value = try Via.parse("SIP/2.0/UDP h;branch=z9hG4bK1;rport=5062")
        XCTAssertEqual(value.rport, .some(5062))
        var v = empty
        v.rport = .some(4000)
        v.received = "10.0.0.1"
        XCTAssertEqual(v.description, "SIP/2.0/UDP h;rport=4000;branch=z9hG4bK1;received=10.0.0.1")
        v.rport = .some(nil)
        XCTAssertEqual(v.rport, .some(nil))
        v.rport = nil
        XCTAssertTrue(v.rport == nil)
        XCTAssertEqual(v.description, "SIP/2.0/UDP h;branch=z9hG4bK1;received=10.0.0.1")
        XCTAssertThrowsError(try Via.parse("SIP/2.0/UDP h;rport=70000"))
        XCTAssertThrowsError(try Via.parse("SIP/2.0/UDP h;rport=abc"))
    }

    func testIPv6AndWhitespace() throws {
        let v = try Via.parse("SIP / 2.0 / TCP  [2001:db8::9] : 5060 ; branch = z9hG4bKx ; received=2001:db8::1")
        XCTAssertEqual(v.transport, "TCP")
        XCTAssertEqual(v.host, "2001:db8::9")
        XCTAssertEqual(v.port, 5060)
        XCTAssertEqual(v.branch, "z9hG4bKx")
        XCTAssertEqual(v.received, "2001:db8::1")
        XCTAssertEqual(v.sentBy, "[2001:db8::9]:5060")
        let other = try Via.parse("sip/7.0/udp c.example.com")
        XCTAssertEqual(other.protocolName, "SIP")
        XCTAssertEqual(other.protocolVersion, "7.0")
        XCTAssertEqual(other.description, "SIP/7.0/UDP c.example.com")
        XCTAssertEqual(Via(transport: "ws", host: "Example.com", branch: "z9hG4bKa").description, "SIP/2.0/WS example.com;branch=z9hG4bKa")
    }

    func testInvalidVias() {
        for bad in ["", "SIP/2.0/UDP", "SIP/2.0 host", "SIP/2.0/UDP host;;", "SIP/2.0//UDP host", "SIP/2.0/UDP/X host",
                    "SIP/2.0/UDP host;branch=", "SIP/2.0/UDP host:", "SIP/2.0/UDP host junk", "SIP/2.0/UDPhost"] {
            XCTAssertThrowsError(try Via.parse(bad), bad)
        }
    }
}

final class NameAddressTests: XCTestCase {
    func testForms() throws {
        let a = try NameAddress.parse("\"Alice \\\"A\\\" Liddell\" <sip:alice@example.com;transport=tcp>;tag=1928301774;expires=60")
        XCTAssertEqual(a.displayName, "Alice \"A\" Liddell")
        XCTAssertEqual(a.uri.user, "alice")
        XCTAssertEqual(a.uri.parameter("transport"), .some("tcp"))
        XCTAssertEqual(a.tag, "1928301774")
        XCTAssertEqual(a.parameter("expires"), .some("60"))
        XCTAssertEqual(a.description, "\"Alice \\\"A\\\" Liddell\" <sip:alice@example.com;transport=tcp>;tag=1928301774;expires=60")
        XCTAssertEqual(try NameAddress.parse(a.description), a)

        // addr-spec: parameters belong to the header, not the URI.
        let b = try NameAddress.parse("sip:bob@example.com;tag=abc;user=phone")
        XCTAssertNil(b.displayName)
        XCTAssertTrue(b.uri.parameters.isEmpty)
        XCTAssertEqual(b.tag, "abc")
        XCTAssertEqual(b.parameter("user"), .some("phone"))
        XCTAssertEqual(b.description, "<sip:bob@example.com>;tag=abc;user=phone")

        let c = try NameAddress.parse("Bob Smith <sips:bob@[2001:db8::1]>")
        XCTAssertEqual(c.displayName, "Bob Smith")
        XCTAssertEqual(c.uri.host, "2001:db8::1")
        XCTAssertEqual(try NameAddress.parse("<tel:+15551234>").uri.opaque, "+15551234")
        XCTAssertEqual(try NameAddress.parse("<sip:a@b>;q=0.5;x=\"quoted;value\"").parameter("x"), .some("\"quoted;value\""))
    }

    func testTagMutation() throws {
        var n = try NameAddress.parse("<sip:a@example.com>")
        XCTAssertNil(n.tag)
        n.tag = "xyz"
        XCTAssertEqual(n.description, "<sip:a@example.com>;tag=xyz")
        n.tag = nil
        XCTAssertEqual(n.description, "<sip:a@example.com>")
    }

    func testInvalid() {
        for bad in ["", "\"unterminated <sip:a@b>", "Bell, Alexander <sip:a@b>", "< sip:a@b >", "<sip:a@b",
                    "sip:a@b?Route=x", "<sip:a@b>;", "<sip:a@b>;;", "<sip:a@b> junk", "Joe sip:a@b",
                    "\"Joe\" sip:a@b", "<sip:a@b>;tag=\"open", "<>"] {
            XCTAssertThrowsError(try NameAddress.parse(bad), bad)
        }
    }
}

final class CSeqAndHeaderTests: XCTestCase {
    func testCSeq() throws {
        XCTAssertEqual(try CSeq.parse("4711 INVITE"), CSeq(sequence: 4711, method: .invite))
        XCTAssertEqual(try CSeq.parse(" 0009   ACK "), CSeq(sequence: 9, method: .ack))
        XCTAssertEqual(try CSeq.parse("2147483647 FOO").method, .other("FOO"))
        XCTAssertEqual(CSeq(sequence: 2, method: .bye).description, "2 BYE")
        XCTAssertThrowsError(try CSeq.parse("2147483648 INVITE")) { error in
            XCTAssertEqual((error as? SIPParseError)?.header, "CSeq")
        }
        for bad in ["", "INVITE", "1", "1INVITE", "-1 INVITE", "1 INVITE x", "99999999999999999999 INVITE"] {
            XCTAssertThrowsError(try CSeq.parse(bad), bad)
        }
    }

    func testMethods() {
        XCTAssertEqual(SIPMethod("INVITE"), .invite)
        XCTAssertEqual(SIPMethod("invite"), .other("invite"))
        XCTAssertNotEqual(SIPMethod("invite"), .invite)
        XCTAssertEqual(SIPMethod.other("BYE"), .bye)
        XCTAssertEqual(Set([SIPMethod.other("BYE"), .bye]).count, 1)
        XCTAssertEqual(SIPMethod.prack.name, "PRACK")
        XCTAssertEqual("\(SIPMethod.publish)", "PUBLISH")
    }

    func testHeaderLookupAndLists() {
        var h = SIPHeaders()
        h.add("v", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2")
        h.add("VIA", "SIP/2.0/UDP c;branch=z9hG4bK3")
        h.add("WWW-Authenticate", "Digest realm=\"a,b\", nonce=\"x\", qop=\"auth\"")
        h.add("Contact", "\"Doe, John\" <sip:j@a;x=1,2>, <sip:k@b>")
        h.add("Date", "Sat, 13 Nov 2010 23:29:00 GMT")
        h.add("X-Custom", "a, b")
        XCTAssertEqual(h.count, 6)
        XCTAssertEqual(h.fields.first?.name, "Via")
        XCTAssertEqual(h["via"], "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2")
        XCTAssertEqual(h.values("Via"), ["SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b;branch=z9hG4bK2", "SIP/2.0/UDP c;branch=z9hG4bK3"])
        XCTAssertEqual(h.values("www-authenticate").count, 1)
        XCTAssertEqual(h.values("m"), ["\"Doe, John\" <sip:j@a;x=1,2>", "<sip:k@b>"])
        XCTAssertEqual(h.values("Date"), ["Sat, 13 Nov 2010 23:29:00 GMT"])
        XCTAssertEqual(h.values("X-Custom"), ["a, b"])
        h.set("Via", "SIP/2.0/TCP z")
        XCTAssertEqual(h.values("Via"), ["SIP/2.0/TCP z"])
        XCTAssertEqual(h.fields.first?.name, "Via")
        h.remove("m")
        XCTAssertNil(h["Contact"])
        h.set("i", "abc")
        XCTAssertEqual(h["Call-ID"], "abc")
        XCTAssertEqual(h.fields.last?.name, "Call-ID")
        XCTAssertEqual(SIPHeaders.canonicalName("CALL-id"), "Call-ID")
        XCTAssertEqual(SIPHeaders.canonicalName("X-Foo"), "X-Foo")
        XCTAssertEqual(Array(h).count, h.count)
    }

    func testDateValidation() {
        XCTAssertTrue(isValidRFC1123Date("Sat, 13 Nov 2010 23:29:00 GMT"))
        XCTAssertFalse(isValidRFC1123Date("Fri, 01 Jan 2010 16:00:00 EST"))
        XCTAssertFalse(isValidRFC1123Date("Sat, 13 Nov 2010 25:29:00 GMT"))
        XCTAssertFalse(isValidRFC1123Date("Sat 13 Nov 2010 23:29:00 GMT"))
    }
}
