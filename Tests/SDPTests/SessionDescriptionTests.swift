import XCTest
@testable import SDP

/// Joins lines with CRLF (plus a final CRLF), as on the wire.
func sdp(_ lines: String...) -> String {
    lines.map { $0 + "\r\n" }.joined()
}

final class SessionDescriptionTests: XCTestCase {
    let sippOffer = sdp(
        "v=0",
        "o=user1 53655765 2353687637 IN IP4 192.168.1.20",
        "s=-",
        "c=IN IP4 192.168.1.20",
        "t=0 0",
        "m=audio 6000 RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15")

    func testParseSIPpOffer() throws {
        let d = try SessionDescription.parse(sippOffer)
        XCTAssertEqual(d.version, 0)
        XCTAssertEqual(d.origin, Origin(username: "user1", sessionID: 53655765, sessionVersion: 2353687637,
                                        netType: "IN", addressType: "IP4", address: "192.168.1.20"))
        XCTAssertEqual(d.sessionName, "-")
        XCTAssertEqual(d.connection, Connection(netType: "IN", addressType: "IP4", address: "192.168.1.20"))
        XCTAssertEqual(d.timing, ["0 0"])
        XCTAssertEqual(d.attributes, [])
        XCTAssertEqual(d.media.count, 1)
        let m = d.media[0]
        XCTAssertEqual(m.media, "audio")
        XCTAssertEqual(m.port, 6000)
        XCTAssertEqual(m.proto, "RTP/AVP")
        XCTAssertEqual(m.formats, ["0", "101"])
        XCTAssertNil(m.connection)
        XCTAssertEqual(m.direction, .sendrecv)
        XCTAssertNil(m.ptime)
        XCTAssertEqual(m.rtpmaps[0], RTPMap(payloadType: 0, encoding: "PCMU", clockRate: 8000))
        XCTAssertEqual(m.rtpmaps[101], RTPMap(payloadType: 101, encoding: "telephone-event", clockRate: 8000, fmtp: "0-15"))
    }

    func testSerializeIsCanonicalAndRoundTrips() throws {
        let d = try SessionDescription.parse(sippOffer)
        XCTAssertEqual(d.serialize(), sippOffer)
        XCTAssertEqual(try SessionDescription.parse(d.serialize()), d)
    }

    func testLFOnlyLineEndsAndBlankLines() throws {
        let lf = sippOffer.replacingOccurrences(of: "\r\n", with: "\n")
        XCTAssertFalse(lf.contains("\r"))
        XCTAssertEqual(try SessionDescription.parse(lf), try SessionDescription.parse(sippOffer))
        // No final line end, a blank line, trailing blanks.
        let sloppy = "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=x\n\nt=0 0  \nm=audio 5 RTP/AVP 8\na=sendonly \n"
        let d = try SessionDescription.parse(String(sloppy.dropLast()))
        XCTAssertEqual(d.media[0].direction, .sendonly)
        XCTAssertEqual(d.timing, ["0 0"])
    }

    func testStaticDefaultsAndDynamicMaps() throws {
        let d = try SessionDescription.parse(sdp(
            "v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
            "m=audio 4000 RTP/AVP 8 18 96 13",
            "a=rtpmap:96 opus/48000/2",
            "a=fmtp:96 useinbandfec=1",
            "a=rtpmap:bogus",
            "a=ptime:30"))
        let maps = d.media[0].rtpmaps
        XCTAssertEqual(maps[8], RTPMap(payloadType: 8, encoding: "PCMA", clockRate: 8000))
        XCTAssertEqual(maps[18]?.encoding, "G729")
        XCTAssertEqual(maps[13]?.encoding, "CN")
        XCTAssertEqual(maps[96], RTPMap(payloadType: 96, encoding: "opus", clockRate: 48000, channels: 2, fmtp: "useinbandfec=1"))
        XCTAssertEqual(maps.count, 4)
        XCTAssertEqual(d.media[0].ptime, 30)
    }

    func testUnknownLinesArePreserved() throws {
        let text = sdp(
            "v=0",
            "o=- 3868479425 3868479425 IN IP4 192.168.1.10",
            "s=pjmedia",
            "i=A session",
            "u=http://example.com/",
            "e=alice@example.com",
            "c=IN IP4 192.168.1.10",
            "b=AS:84",
            "t=0 0",
            "r=7d 1h 0 25h",
            "k=prompt",
            "y=unknown letter",
            "a=X-nat:0",
            "a=group:BUNDLE audio",
            "m=audio 4000/2 RTP/AVP 0",
            "i=voice",
            "c=IN IP4 192.168.1.11",
            "b=TIAS:64000",
            "a=rtcp:4001 IN IP4 192.168.1.10",
            "a=sendrecv")
        let d = try SessionDescription.parse(text)
        XCTAssertEqual(d.otherLines.map(\.type), ["i", "u", "e", "b", "r", "k", "y"])
        XCTAssertEqual(d.attributes, [Attribute(name: "X-nat", value: "0"), Attribute(name: "group", value: "BUNDLE audio")])
        XCTAssertEqual(d.media[0].numberOfPorts, 2)
        XCTAssertEqual(d.media[0].otherLines, [SDPLine(type: "i", value: "voice"), SDPLine(type: "b", value: "TIAS:64000")])
        XCTAssertEqual(d.media[0].attributes[0], Attribute(name: "rtcp", value: "4001 IN IP4 192.168.1.10"))
        XCTAssertEqual(d.serialize(), text)
    }

    func testSessionLevelDirectionIsInheritedAndOverridden() throws {
        let d = try SessionDescription.parse(sdp(
            "v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0", "a=sendonly",
            "m=audio 4000 RTP/AVP 0",
            "m=audio 4002 RTP/AVP 0", "a=inactive"))
        XCTAssertEqual(d.sessionDirection, .sendonly)
        XCTAssertEqual(d.media[0].direction, .sendonly)
        XCTAssertEqual(d.media[1].direction, .inactive)
    }

    func testSetters() throws {
        var m = MediaDescription(media: "audio", port: 1000, proto: "RTP/AVP", formats: ["0", "101"])
        m.attributes = [Attribute(name: "rtpmap", value: "0 PCMU/8000"), Attribute(name: "sendonly")]
        m.direction = .recvonly
        XCTAssertEqual(m.direction, .recvonly)
        XCTAssertEqual(m.attributes.filter { $0.name == "sendonly" || $0.name == "recvonly" }.count, 1)
        m.ptime = 20
        m.ptime = 40
        XCTAssertEqual(m.attributeValues("ptime"), ["40"])
        m.rtpmaps = [101: RTPMap(payloadType: 101, encoding: "telephone-event", clockRate: 8000, fmtp: "0-16"),
                     0: RTPMap(payloadType: 0, encoding: "PCMU", clockRate: 8000)]
        XCTAssertEqual(m.attributeValues("rtpmap"), ["0 PCMU/8000", "101 telephone-event/8000"])
        XCTAssertEqual(m.attributeValues("fmtp"), ["101 0-16"])
        m.ptime = nil
        XCTAssertNil(m.ptime)
    }

    func testDirectionReversed() {
        XCTAssertEqual(MediaDirection.sendrecv.reversed, .sendrecv)
        XCTAssertEqual(MediaDirection.sendonly.reversed, .recvonly)
        XCTAssertEqual(MediaDirection.recvonly.reversed, .sendonly)
        XCTAssertEqual(MediaDirection.inactive.reversed, .inactive)
    }

    func testIPv6() throws {
        let d = try SessionDescription.parse(sdp(
            "v=0", "o=- 1 2 IN IP6 2001:db8::1", "s=-", "c=IN IP6 2001:db8::1", "t=0 0", "m=audio 4000 RTP/AVP 0"))
        XCTAssertEqual(d.origin.addressType, "IP6")
        XCTAssertEqual(d.connection?.address, "2001:db8::1")
        XCTAssertEqual(Connection(address: "[2001:db8::2]"), Connection(netType: "IN", addressType: "IP6", address: "2001:db8::2"))
        XCTAssertEqual(Connection(address: "10.1.2.3").addressType, "IP4")
    }

    // MARK: Malformed input

    private func assertError(_ text: String, line: Int, _ reason: SDPError.Reason, file: StaticString = #filePath, lineNo: UInt = #line) {
        do {
            _ = try SessionDescription.parse(text)
            XCTFail("parsed garbage", file: file, line: lineNo)
        } catch {
            XCTAssertEqual(error, SDPError(line: line, reason: reason), file: file, line: lineNo)
            XCTAssertTrue(error.description.contains(line > 0 ? "line \(line)" : "SDP"), file: file, line: lineNo)
        }
    }

    func testMalformed() {
        let head = ["v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "t=0 0"]
        func text(_ lines: [String]) -> String { lines.map { $0 + "\r\n" }.joined() }

        assertError("", line: 0, .empty)
        assertError("\r\n\r\n", line: 0, .empty)
        assertError("hello world\r\n", line: 1, .malformedLine)
        assertError("SIP/2.0 200 OK\r\n", line: 1, .malformedLine)
        assertError(text(["o=- 1 2 IN IP4 10.0.0.1", "v=0"]), line: 1, .missingVersion)
        assertError(text(["v=1"] + head.dropFirst()), line: 1, .unsupportedVersion("1"))
        assertError(text(head + ["garbage"]), line: 5, .malformedLine)
        assertError(text(head + ["A=sendrecv"]), line: 5, .malformedLine)
        assertError(text(head + ["=x"]), line: 5, .malformedLine)
        assertError(text(["v=0", "o=- 1 2 IN IP4"]), line: 2, .malformedOrigin)
        assertError(text(["v=0", "o=- abc 2 IN IP4 10.0.0.1"]), line: 2, .malformedOrigin)
        assertError(text(["v=0", "o=- -1 2 IN IP4 10.0.0.1"]), line: 2, .malformedOrigin)
        assertError(text(["v=0", "s=-", "t=0 0"]), line: 0, .missingLine("o"))
        assertError(text(["v=0", "s=-", "m=audio 1 RTP/AVP 0"]), line: 3, .missingLine("o"))
        assertError(text(head + ["v=0"]), line: 5, .duplicateLine("v"))
        assertError(text(head + ["c=IN IP4"]), line: 5, .malformedConnection)
        assertError(text(head + ["m=audio 4000"]), line: 5, .malformedMedia)
        assertError(text(head + ["m=audio abc RTP/AVP 0"]), line: 5, .malformedMedia)
        assertError(text(head + ["m=audio 70000 RTP/AVP 0"]), line: 5, .malformedMedia)
        assertError(text(head + ["m=audio -1 RTP/AVP 0"]), line: 5, .malformedMedia)
        assertError(text(head + ["m=audio 4000/x RTP/AVP 0"]), line: 5, .malformedMedia)
        assertError(text(head + ["m=audio 4000 RTP/AVP 0", "c=IN IP4 10.0.0.1 extra"]), line: 6, .malformedConnection)
        assertError(text(head + ["m=audio 4000 RTP/AVP 0", "a=sendrecv", "t=0 0"]), line: 7, .notAllowedInMedia("t"))
        assertError(text(head + ["m=audio 4000 RTP/AVP 0", "o=- 1 2 IN IP4 10.0.0.1"]), line: 6, .notAllowedInMedia("o"))
        // Line numbers count LF-only lines and blank lines too.
        assertError("v=0\n\no=- 1 2 IN IP4 10.0.0.1\nbroken\n", line: 4, .malformedLine)
    }
}
