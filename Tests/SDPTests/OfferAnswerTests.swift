import XCTest
@testable import SDP

final class OfferAnswerTests: XCTestCase {
    private func answer(_ text: String, localAddress: String = "10.0.0.1", localPort: Int = 20000,
                        file: StaticString = #filePath, line: UInt = #line) throws -> (answer: SessionDescription, negotiated: NegotiatedAudio) {
        let offer = try SessionDescription.parse(text)
        let result = try OfferAnswer.answer(offer: offer, localAddress: localAddress, localPort: localPort,
                                            sessionID: 42, sessionVersion: 1)
        // The answer must itself be valid SDP that parses back to the same value.
        XCTAssertEqual(try SessionDescription.parse(result.answer.serialize()), result.answer, file: file, line: line)
        // RFC 3264 §6: as many m= lines as the offer, same media types, in order.
        XCTAssertEqual(result.answer.media.map(\.media), offer.media.map(\.media), file: file, line: line)
        return result
    }

    private func assertRejected(_ text: String, _ expected: OfferAnswerError, file: StaticString = #filePath, line: UInt = #line) throws {
        let offer = try SessionDescription.parse(text)
        do {
            _ = try OfferAnswer.answer(offer: offer, localAddress: "10.0.0.1", localPort: 20000, sessionID: 1, sessionVersion: 1)
            XCTFail("answered", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
        }
    }

    func testSIPpDefaultOffer() throws {
        let (answer, negotiated) = try answer(sdp(
            "v=0",
            "o=user1 53655765 2353687637 IN IP4 192.168.1.20",
            "s=-",
            "c=IN IP4 192.168.1.20",
            "t=0 0",
            "m=audio 6000 RTP/AVP 0 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15"))
        XCTAssertEqual(negotiated, NegotiatedAudio(codec: .pcmu, payloadType: 0, telephoneEventPayloadType: 101,
                                                   remoteAddress: "192.168.1.20", remotePort: 6000,
                                                   direction: .sendrecv, ptime: 20, mediaIndex: 0))
        XCTAssertEqual(answer.serialize(), sdp(
            "v=0",
            "o=hotline 42 1 IN IP4 10.0.0.1",
            "s=hotline",
            "c=IN IP4 10.0.0.1",
            "t=0 0",
            "m=audio 20000 RTP/AVP 0 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv"))
    }

    func testSIPpOfferWithoutRtpmap() throws {
        let (answer, negotiated) = try answer(sdp(
            "v=0", "o=user1 53655765 2353687637 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
            "m=audio 6000 RTP/AVP 0"))
        XCTAssertEqual(negotiated.codec, .pcmu)
        XCTAssertEqual(negotiated.payloadType, 0)
        XCTAssertNil(negotiated.telephoneEventPayloadType)
        XCTAssertEqual(answer.media[0].formats, ["0"])
        XCTAssertEqual(answer.media[0].attributeValues("fmtp"), [])
    }

    func testPjsuaOffer() throws {
        let (answer, negotiated) = try answer(sdp(
            "v=0",
            "o=- 3868479425 3868479425 IN IP4 192.168.1.10",
            "s=pjmedia",
            "b=AS:84",
            "t=0 0",
            "a=X-nat:0",
            "m=audio 4000 RTP/AVP 9 98 97 99 3 0 8 96 101 102",
            "c=IN IP4 192.168.1.10",
            "b=TIAS:64000",
            "a=rtcp:4001 IN IP4 192.168.1.10",
            "a=sendrecv",
            "a=rtpmap:98 speex/16000",
            "a=rtpmap:97 speex/8000",
            "a=rtpmap:99 speex/32000",
            "a=rtpmap:96 iLBC/8000",
            "a=fmtp:96 mode=30",
            "a=rtpmap:101 telephone-event/16000",
            "a=fmtp:101 0-16",
            "a=rtpmap:102 telephone-event/8000",
            "a=fmtp:102 0-16",
            "a=ssrc:1239283190 cname:6e9d1d0e6ac6d5c3"))
        XCTAssertEqual(negotiated.codec, .pcmu)
        XCTAssertEqual(negotiated.payloadType, 0)
        XCTAssertEqual(negotiated.telephoneEventPayloadType, 102)
        XCTAssertEqual(negotiated.remoteAddress, "192.168.1.10")
        XCTAssertEqual(negotiated.remotePort, 4000)
        XCTAssertEqual(answer.media[0].formats, ["0", "102"])
        XCTAssertEqual(answer.media[0].rtpmaps[102]?.fmtp, "0-16")
        XCTAssertEqual(answer.media[0].rtpmaps[102]?.clockRate, 8000)
    }

    func testBaresipOffer() throws {
        let (answer, negotiated) = try answer(sdp(
            "v=0",
            "o=- 1907345521 3495478436 IN IP4 10.0.0.5",
            "s=-",
            "c=IN IP4 10.0.0.5",
            "t=0 0",
            "m=audio 10770 RTP/AVP 96 8 0 101",
            "b=AS:128",
            "a=rtpmap:96 opus/48000/2",
            "a=fmtp:96 stereo=1;sprop-stereo=1",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=ptime:20",
            "a=sendrecv",
            "a=label:1",
            "a=rtcp-rsize",
            "a=ssrc:4006263458 cname:sip:alice@example.com"))
        // Our preference (PCMU first: no transcoding against the carrier) picks among the offer.
        XCTAssertEqual(negotiated.codec, .pcmu)
        XCTAssertEqual(negotiated.payloadType, 0)
        XCTAssertEqual(negotiated.telephoneEventPayloadType, 101)
        XCTAssertEqual(answer.media[0].formats, ["0", "101"])
        XCTAssertEqual(answer.media[0].rtpmaps[0]?.encoding, "PCMU")
    }

    func testOpusOfferAnsweredWithOpusAnd48kEvents() throws {
        let offer = try SessionDescription.parse(sdp(
            "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
            "m=audio 10770 RTP/AVP 96 101 102",
            "a=rtpmap:96 opus/48000/2", "a=fmtp:96 useinbandfec=1",
            "a=rtpmap:101 telephone-event/8000", "a=rtpmap:102 telephone-event/48000"))
        let (answer, negotiated) = try OfferAnswer.answer(offer: offer, localAddress: "127.0.0.1", localPort: 30000,
                                                          sessionID: 1, sessionVersion: 1)
        XCTAssertEqual(negotiated.codec, .opus)
        XCTAssertEqual(negotiated.payloadType, 96)
        XCTAssertEqual(negotiated.telephoneEventPayloadType, 102, "events at the audio's clock rate win")
        XCTAssertEqual(negotiated.telephoneEventClockRate, 48000)
        XCTAssertEqual(answer.media[0].rtpmaps[96]?.encoding, "opus")
        XCTAssertEqual(answer.media[0].rtpmaps[96]?.clockRate, 48000)
        XCTAssertEqual(answer.media[0].rtpmaps[96]?.channels, 2)
        XCTAssertEqual(answer.media[0].rtpmaps[96]?.fmtp, "useinbandfec=1")
        XCTAssertEqual(answer.media[0].rtpmaps[102]?.clockRate, 48000)
    }

    func testConfiguredPreferenceAndUnsupportedCodecs() throws {
        let text = sdp(
            "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
            "m=audio 4000 RTP/AVP 9 0 8", "a=rtpmap:9 G722/8000")
        let offer = try SessionDescription.parse(text)
        XCTAssertEqual(try OfferAnswer.answer(offer: offer, localAddress: "127.0.0.1", localPort: 30000, sessionID: 1,
                                              sessionVersion: 1, supported: [.g722, .pcmu]).negotiated.codec, .g722)
        XCTAssertEqual(try OfferAnswer.answer(offer: offer, localAddress: "127.0.0.1", localPort: 30000, sessionID: 1,
                                              sessionVersion: 1, supported: [.pcma, .g722]).negotiated.codec, .pcma)
        XCTAssertThrowsError(try OfferAnswer.answer(offer: offer, localAddress: "127.0.0.1", localPort: 30000, sessionID: 1,
                                                    sessionVersion: 1, supported: [.opus])) { error in
            XCTAssertEqual(error as? OfferAnswerError, .noCommonCodec)
        }
    }

    func testOpusOfferOfOursOffersEventsAtBothRates() throws {
        let offer = OfferAnswer.offer(localAddress: "127.0.0.1", localPort: 20000, sessionID: 1, sessionVersion: 1,
                                      codecs: [.opus, .pcmu])
        let m = offer.media[0]
        XCTAssertEqual(m.formats, ["111", "0", "101", "102"])
        XCTAssertEqual(m.rtpmaps[111]?.channels, 2)
        XCTAssertEqual(m.rtpmaps[101]?.clockRate, 8000)
        XCTAssertEqual(m.rtpmaps[102]?.clockRate, 48000)
        // The answerer's choice (listed first in its answer) is what we use.
        let answer = try SessionDescription.parse(sdp(
            "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
            "m=audio 4000 RTP/AVP 0 111 101", "a=rtpmap:111 opus/48000/2", "a=rtpmap:101 telephone-event/8000"))
        let negotiated = try OfferAnswer.negotiated(answer: answer, offered: [.opus, .pcmu])
        XCTAssertEqual(negotiated.codec, .pcmu)
        XCTAssertEqual(negotiated.telephoneEventPayloadType, 101)
    }

    func testPCMAOnly() throws {
        let (answer, negotiated) = try answer(sdp(
            "v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0", "m=audio 7078 RTP/AVP 8"))
        XCTAssertEqual(negotiated.codec, .pcma)
        XCTAssertEqual(negotiated.payloadType, 8)
        XCTAssertEqual(answer.media[0].attributeValues("rtpmap"), ["8 PCMA/8000"])
    }

    func testDynamicPayloadTypeAndCaseInsensitiveName() throws {
        let (answer, negotiated) = try answer(sdp(
            "v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0",
            "m=audio 7078 RTP/AVP 110 111", "a=rtpmap:110 pcmu/16000", "a=rtpmap:111 pcma/8000"))
        XCTAssertEqual(negotiated.codec, .pcma)
        XCTAssertEqual(negotiated.payloadType, 111)
        XCTAssertEqual(answer.media[0].formats, ["111"])
        XCTAssertEqual(answer.media[0].attributeValues("rtpmap"), ["111 PCMA/8000"])
    }

    func testTelephoneEventOutsideDynamicRangeOr16kIsIgnored() throws {
        let (_, negotiated) = try answer(sdp(
            "v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0",
            "m=audio 7078 RTP/AVP 0 95 100", "a=rtpmap:95 telephone-event/8000", "a=rtpmap:100 telephone-event/16000"))
        XCTAssertNil(negotiated.telephoneEventPayloadType)
    }

    func testOnlyG729IsNotAcceptable() throws {
        let text = sdp("v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0",
                       "m=audio 7078 RTP/AVP 18 101", "a=rtpmap:18 G729/8000", "a=rtpmap:101 telephone-event/8000")
        try assertRejected(text, .noCommonCodec)
        XCTAssertEqual(OfferAnswerError.noCommonCodec.statusCode, 488)
        XCTAssertEqual(OfferAnswerError.noAudioStream.statusCode, 488)
    }

    func testAudioAndVideo() throws {
        let (answer, negotiated) = try answer(sdp(
            "v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0",
            "m=audio 7078 RTP/AVP 0 8",
            "m=video 9078 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=fmtp:96 profile-level-id=42801F"))
        XCTAssertEqual(negotiated.mediaIndex, 0)
        XCTAssertEqual(answer.media.count, 2)
        XCTAssertEqual(answer.media[0].port, 20000)
        XCTAssertEqual(answer.media[1], MediaDescription(media: "video", port: 0, proto: "RTP/AVP", formats: ["96"]))
        XCTAssertTrue(answer.serialize().hasSuffix("m=video 0 RTP/AVP 96\r\n"))
    }

    func testVideoFirstAndExtraAudioStreamsRejected() throws {
        let (answer, negotiated) = try answer(sdp(
            "v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0",
            "m=video 9078 RTP/AVP 31",
            "m=audio 0 RTP/AVP 0",              // disabled by the offerer
            "m=audio 7000 RTP/SAVP 0",          // SRTP: unsupported
            "m=audio 7078 RTP/AVP 18",          // no common codec
            "m=audio 7080 RTP/AVP 8",           // the one we take
            "c=IN IP4 10.9.9.10",
            "m=audio 7082 RTP/AVP 0",           // extra audio: rejected
            "m=application 5000 udp wb"))
        XCTAssertEqual(negotiated.mediaIndex, 4)
        XCTAssertEqual(negotiated.codec, .pcma)
        XCTAssertEqual(negotiated.remoteAddress, "10.9.9.10")  // media-level c= wins
        XCTAssertEqual(negotiated.remotePort, 7080)
        XCTAssertEqual(answer.media.map(\.port), [0, 0, 0, 0, 20000, 0, 0])
        XCTAssertEqual(answer.media.map(\.proto), ["RTP/AVP", "RTP/AVP", "RTP/SAVP", "RTP/AVP", "RTP/AVP", "RTP/AVP", "udp"])
        XCTAssertEqual(answer.media[6].formats, ["wb"])
    }

    func testNoAudioStream() throws {
        try assertRejected(sdp("v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0",
                               "m=video 9078 RTP/AVP 31"), .noAudioStream)
        try assertRejected(sdp("v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0"), .noAudioStream)
        try assertRejected(sdp("v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0",
                               "m=audio 9078 RTP/SAVP 0"), .noAudioStream)
        try assertRejected(sdp("v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "t=0 0",
                               "m=audio 9078 RTP/AVP 0"), .noConnectionAddress)
    }

    func testLocalPort() throws {
        let offer = try SessionDescription.parse(sdp("v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9",
                                                     "t=0 0", "m=audio 9078 RTP/AVP 0"))
        for port in [-1, 65536] {
            XCTAssertThrowsError(try OfferAnswer.answer(offer: offer, localAddress: "10.0.0.1", localPort: port,
                                                        sessionID: 1, sessionVersion: 1)) { error in
                XCTAssertEqual(error as? OfferAnswerError, .invalidLocalPort(port))
                XCTAssertEqual((error as? OfferAnswerError)?.statusCode, 500)
            }
        }
        // Port 0: negotiate before the RTP port is allocated.
        let early = try OfferAnswer.answer(offer: offer, localAddress: "10.0.0.1", localPort: 0, sessionID: 1, sessionVersion: 1)
        let late = try OfferAnswer.answer(offer: offer, localAddress: "10.0.0.1", localPort: 40000, sessionID: 1, sessionVersion: 1)
        XCTAssertEqual(early.negotiated, late.negotiated)
        XCTAssertEqual(late.answer.media[0].port, 40000)
    }

    // MARK: Directions and hold

    private func direction(offer attributes: [String], sessionAttributes: [String] = [],
                           address: String = "10.9.9.9", file: StaticString = #filePath, line: UInt = #line) throws -> MediaDirection {
        let lines = ["v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 \(address)", "t=0 0"]
            + sessionAttributes.map { "a=" + $0 } + ["m=audio 7078 RTP/AVP 0"] + attributes.map { "a=" + $0 }
        let (answer, negotiated) = try answer(lines.map { $0 + "\r\n" }.joined(), file: file, line: line)
        XCTAssertEqual(answer.media[0].direction, negotiated.direction, file: file, line: line)
        XCTAssertEqual(answer.media[0].attributes.filter { MediaDirection(rawValue: $0.name) != nil }.count, 1,
                       file: file, line: line)
        return negotiated.direction
    }

    func testDirections() throws {
        XCTAssertEqual(try direction(offer: []), .sendrecv)
        XCTAssertEqual(try direction(offer: ["sendrecv"]), .sendrecv)
        XCTAssertEqual(try direction(offer: ["sendonly"]), .recvonly)
        XCTAssertEqual(try direction(offer: ["recvonly"]), .sendonly)
        XCTAssertEqual(try direction(offer: ["inactive"]), .inactive)
        XCTAssertEqual(try direction(offer: [], sessionAttributes: ["sendonly"]), .recvonly)
        XCTAssertEqual(try direction(offer: ["sendrecv"], sessionAttributes: ["inactive"]), .sendrecv)
    }

    func testHoldOffers() throws {
        // RFC 2543-style hold: c=0.0.0.0.
        XCTAssertEqual(try direction(offer: [], address: "0.0.0.0"), .recvonly)
        XCTAssertEqual(try direction(offer: ["sendonly"], address: "0.0.0.0"), .recvonly)
        XCTAssertEqual(try direction(offer: ["recvonly"], address: "0.0.0.0"), .inactive)
        XCTAssertEqual(try direction(offer: ["inactive"], address: "0.0.0.0"), .inactive)
        // RFC 3264 hold.
        let (answer, negotiated) = try answer(sdp(
            "v=0", "o=- 1 3 IN IP4 10.9.9.9", "s=-", "c=IN IP4 0.0.0.0", "t=0 0",
            "m=audio 7078 RTP/AVP 8 101", "a=rtpmap:101 telephone-event/8000", "a=sendonly"))
        XCTAssertEqual(negotiated.remoteAddress, "0.0.0.0")
        XCTAssertEqual(negotiated.codec, .pcma)
        XCTAssertTrue(answer.serialize().contains("a=recvonly\r\n"))
    }

    func testIPv6() throws {
        let (answer, negotiated) = try answer(sdp(
            "v=0", "o=- 1 2 IN IP6 2001:db8::10", "s=-", "c=IN IP6 2001:db8::10", "t=0 0",
            "m=audio 7078 RTP/AVP 0"), localAddress: "[2001:db8::1]", localPort: 30000)
        XCTAssertEqual(negotiated.remoteAddress, "2001:db8::10")
        XCTAssertEqual(answer.origin.addressType, "IP6")
        XCTAssertEqual(answer.origin.address, "2001:db8::1")
        XCTAssertTrue(answer.serialize().contains("c=IN IP6 2001:db8::1\r\n"))
        XCTAssertTrue(answer.serialize().contains("m=audio 30000 RTP/AVP 0\r\n"))
    }

    func testIPv4OfferAnsweredFromIPv6Address() throws {
        // Address family of the answer follows our local address.
        let (answer, _) = try answer(sdp(
            "v=0", "o=- 1 2 IN IP4 10.9.9.9", "s=-", "c=IN IP4 10.9.9.9", "t=0 0", "m=audio 7078 RTP/AVP 0"),
            localAddress: "::1")
        XCTAssertEqual(answer.connection, Connection(netType: "IN", addressType: "IP6", address: "::1"))
    }
}
