import XCTest

@testable import SDP

/// Our offers (outgoing calls) and reading the answers back.
final class OfferTests: XCTestCase {
    func testOfferListsCodecsAndTelephoneEvent() throws {
        let offer = OfferAnswer.offer(localAddress: "127.0.0.1", localPort: 20002, sessionID: 7, sessionVersion: 7)
        let text = offer.serialize()
        XCTAssertTrue(text.contains("m=audio 20002 RTP/AVP 0 8 101"), text)
        XCTAssertTrue(text.contains("a=rtpmap:101 telephone-event/8000"), text)
        XCTAssertTrue(text.contains("a=ptime:20"), text)
        XCTAssertTrue(text.contains("c=IN IP4 127.0.0.1"), text)
        // Our own offer answered by the answerer code gives back what we offered first.
        let answer = try OfferAnswer.answer(offer: try SessionDescription.parse(text), localAddress: "127.0.0.2", localPort: 30000,
                                            sessionID: 1, sessionVersion: 1).answer
        let agreed = try OfferAnswer.negotiated(answer: try SessionDescription.parse(answer.serialize()))
        XCTAssertEqual(agreed.codec, .pcmu)
        XCTAssertEqual(agreed.remoteAddress, "127.0.0.2")
        XCTAssertEqual(agreed.remotePort, 30000)
        XCTAssertEqual(agreed.telephoneEventPayloadType, 101)
        XCTAssertEqual(agreed.direction, .sendrecv)
    }

    func testAnswerOnHoldIsReadAsOurSendOnly() throws {
        let text = "v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=recvonly\r\n"
        let agreed = try OfferAnswer.negotiated(answer: try SessionDescription.parse(text))
        XCTAssertEqual(agreed.codec, .pcma)
        XCTAssertEqual(agreed.direction, .sendonly)
    }

    func testAnswerWithoutOurCodecIsRefused() throws {
        let text = "v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n"
        XCTAssertThrowsError(try OfferAnswer.negotiated(answer: try SessionDescription.parse(text)))
        let rejected = "v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"
        XCTAssertThrowsError(try OfferAnswer.negotiated(answer: try SessionDescription.parse(rejected)))
    }
}
