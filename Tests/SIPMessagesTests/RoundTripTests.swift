import XCTest
@testable import SIPMessages

final class RoundTripTests: XCTestCase {
    let parser = SIPParser()

    /// parse → serialize → parse yields an equal message for the valid set.
    func testValidSetRoundTrips() throws {
        var checked = 0
        for e in try RFC4475.index() where e.expected == "valid" {
            let first = try parser.parse(datagram: try RFC4475.load(e.file))
            let wire = first.serialize()
            let second: SIPMessage
            do {
                second = try parser.parse(datagram: wire)
            } catch {
                XCTFail("\(e.file): reparse failed: \(error)\n\(String(decoding: wire, as: UTF8.self))")
                continue
            }
            XCTAssertEqual(first, second, "\(e.file) did not round-trip")
            // Serialization is stable.
            XCTAssertEqual(wire, second.serialize(), e.file)
            // Stream framing of the serialized form yields the same message.
            var framer = SIPStreamFramer()
            framer.append(wire)
            let framed = try XCTUnwrap(try framer.next(), e.file)
            XCTAssertEqual(try parser.parse(framed: framed), first, e.file)
            checked += 1
        }
        XCTAssertEqual(checked, 13)
    }

    /// The application-class messages (except the ones whose Content-Length is
    /// ambiguous or absent) round-trip too.
    func testApplicationSetRoundTrips() throws {
        for e in try RFC4475.index() where e.expected == "application" || e.expected == "transaction" {
            if ["inv2543.dat", "mcl01.dat"].contains(e.file) { continue }
            let first = try parser.parse(datagram: try RFC4475.load(e.file))
            let second = try parser.parse(datagram: first.serialize())
            XCTAssertEqual(first, second, e.file)
        }
    }

    func testSerializeSetsContentLength() throws {
        var h = SIPHeaders()
        h.add("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1")
        h.add("Content-Length", "999")
        h.add("l", "3")
        h.add("Call-ID", "x@y")
        let req = SIPRequest(method: .message, uri: SIPURI(user: "bob", host: "example.com"), headers: h, body: Array("hello".utf8))
        let text = String(decoding: req.serialize(), as: UTF8.self)
        XCTAssertEqual(text, "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nContent-Length: 5\r\nCall-ID: x@y\r\n\r\nhello")

        let resp = SIPResponse(statusCode: 486)
        XCTAssertEqual(String(decoding: resp.serialize(), as: UTF8.self), "SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n")
    }

    func testSerializeNeutralizesLineBreaksInValues() throws {
        var h = SIPHeaders()
        h.add("Subject", "evil\r\nInjected: yes")
        let req = SIPRequest(method: .options, uri: SIPURI(host: "example.com"), headers: h)
        let reparsed = try parser.parse(datagram: req.serialize()).requestOrFail
        XCTAssertNil(reparsed.headers["Injected"])
        XCTAssertEqual(reparsed.headers.count, 2)
    }
}
