import Foundation
import HotlineCore
import XCTest

@testable import Events

final class CloudEventEncoderTests: XCTestCase {
    func testStructuredModeFields() throws {
        let time = Date(timeIntervalSince1970: 1_795_370_652.345)  // 2026-11-22T18:04:12.345Z
        let e = CallEvent(type: CallEventType.received, callID: CallIdentifier(rawValue: "c0ffee"), sequence: 1,
                          time: time, data: ["caller": "13800138000", "called": "12345", "note": "市民/来电\n"])
        let bytes = CloudEventEncoder.encode(e, source: "hotline://node1")
        let object = try jsonObject(bytes)
        XCTAssertEqual(object["specversion"] as? String, "1.0")
        XCTAssertEqual(object["id"] as? String, "c0ffee-1")
        XCTAssertEqual(object["source"] as? String, "hotline://node1")
        XCTAssertEqual(object["type"] as? String, "hotline.call.received")
        XCTAssertEqual(object["subject"] as? String, "c0ffee")
        XCTAssertEqual(object["time"] as? String, "2026-11-22T18:04:12.345Z")
        XCTAssertEqual(object["datacontenttype"] as? String, "application/json")
        let data = try XCTUnwrap(object["data"] as? [String: Any])
        XCTAssertEqual(data["seq"] as? Int, 1)
        XCTAssertEqual(data["caller"] as? String, "13800138000")
        XCTAssertEqual(data["note"] as? String, "市民/来电\n")
        XCTAssertEqual(object.count, 8)
    }

    func testStableSortedBytes() {
        let time = Date(timeIntervalSince1970: 0.5)
        let e = CallEvent(type: "hotline.ivr.input", callID: CallIdentifier(rawValue: "a"), sequence: 3, time: time,
                          data: ["menu": "main", "digit": "1", "z": ["b": 1, "a": [true, nil, .double(1.5)]]])
        let expected = #"{"data":{"digit":"1","menu":"main","seq":3,"z":{"a":[true,null,1.5],"b":1}},"#
            + #""datacontenttype":"application/json","id":"a-3","source":"s","specversion":"1.0","subject":"a","#
            + #""time":"1970-01-01T00:00:00.500Z","type":"hotline.ivr.input"}"#
        XCTAssertEqual(String(decoding: CloudEventEncoder.encode(e, source: "s"), as: UTF8.self), expected)
        // Same input, same bytes, whatever the dictionary order.
        for _ in 0..<20 {
            XCTAssertEqual(CloudEventEncoder.encode(e, source: "s"), Array(expected.utf8))
        }
    }

    func testSeqOverridesDataAndEscapes() throws {
        let e = CallEvent(type: "t", callID: CallIdentifier(rawValue: "x\"y"), sequence: 7, time: Date(),
                          data: ["seq": 99, "ctl": .string("a\u{01}b\\c\"")])
        let bytes = CloudEventEncoder.encode(e, source: "s")
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains(#""ctl":"a\u0001b\\c\"""#), text)
        let object = try jsonObject(bytes)
        XCTAssertEqual((object["data"] as? [String: Any])?["seq"] as? Int, 7)
        XCTAssertEqual(object["subject"] as? String, "x\"y")
    }

    func testRFC3339() {
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 1_795_370_652.345)), "2026-11-22T18:04:12.345Z")
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 951_782_400)), "2000-02-29T00:00:00.000Z")
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: -0.001)), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(RFC3339.parse("2026-11-22T18:04:12.345Z")?.timeIntervalSince1970 ?? 0, 1_795_370_652.345, accuracy: 1e-6)
        XCTAssertEqual(RFC3339.parse("2026-11-23T02:04:12+08:00")?.timeIntervalSince1970, 1_795_370_652)
        XCTAssertNil(RFC3339.parse("2026-11-22 garbage"))
        let now = Date()
        let roundTrip = RFC3339.parse(RFC3339.format(now))!
        XCTAssertEqual(roundTrip.timeIntervalSince1970, now.timeIntervalSince1970, accuracy: 0.001)
    }

    func testSignature() {
        // RFC 4231 test case 2.
        let sig = WebhookSignature.sign(Array("what do ya want for nothing?".utf8), secret: "Jefe")
        XCTAssertEqual(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}
