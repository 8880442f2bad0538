import XCTest
@testable import SIPMessages

final class FramerTests: XCTestCase {
    let msg1 = bytes("OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    let msg2 = bytes("MESSAGE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\nCall-ID: 2\r\nCSeq: 2 MESSAGE\r\nl: 5\r\n\r\nhello")

    func testTwoMessagesInOneChunk() throws {
        var f = SIPStreamFramer()
        f.append(msg1 + msg2)
        XCTAssertEqual(try f.next(), msg1)
        XCTAssertEqual(try f.next(), msg2)
        XCTAssertNil(try f.next())
        XCTAssertEqual(f.bufferedByteCount, 0)
        let m = try SIPParser().parse(framed: msg2)
        XCTAssertEqual(m.body, bytes("hello"))
    }

    func testByteByByte() throws {
        var f = SIPStreamFramer()
        var out: [[UInt8]] = []
        for b in msg1 + bytes("\r\n\r\n") + msg2 + msg1 {
            f.append([b])
            while let m = try f.next() { out.append(m) }
        }
        XCTAssertEqual(out, [msg1, msg2, msg1])
    }

    func testKeepAlives() throws {
        var f = SIPStreamFramer()
        f.append(bytes("\r\n\r\n"))
        XCTAssertNil(try f.next())
        f.append(bytes("\r\n"))
        XCTAssertNil(try f.next())
        XCTAssertEqual(f.skippedKeepAliveBytes, 6)
        f.append(bytes("\r\n\r\n") + msg2 + bytes("\r\n\r\n\r\n"))
        XCTAssertEqual(try f.next(), msg2)
        XCTAssertNil(try f.next())
        XCTAssertEqual(f.bufferedByteCount, 0)
    }

    func testBodySplitAcrossChunks() throws {
        var f = SIPStreamFramer()
        f.append(Array(msg2.dropLast(3)))
        XCTAssertNil(try f.next())
        f.append(Array(msg2.suffix(3)))
        XCTAssertEqual(try f.next(), msg2)
    }

    func testMissingContentLengthIsFatal() throws {
        var f = SIPStreamFramer()
        f.append(bytes("OPTIONS sip:a@example.com SIP/2.0\r\nCall-ID: 1\r\n\r\n"))
        XCTAssertThrowsError(try f.next()) { error in
            XCTAssertEqual((error as? SIPParseError)?.kind, .missingHeader)
            XCTAssertEqual((error as? SIPParseError)?.header, "Content-Length")
        }
        f.append(msg1)
        XCTAssertThrowsError(try f.next(), "errors are sticky")
    }

    func testInvalidAndConflictingContentLength() throws {
        var f = SIPStreamFramer()
        f.append(bytes("OPTIONS sip:a@example.com SIP/2.0\r\nContent-Length: -1\r\n\r\n"))
        XCTAssertThrowsError(try f.next())
        var g = SIPStreamFramer()
        g.append(bytes("OPTIONS sip:a@example.com SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab"))
        XCTAssertThrowsError(try g.next()) { error in
            XCTAssertEqual((error as? SIPParseError)?.kind, .contentLength)
        }
    }

    func testOversizedHeadersError() throws {
        var limits = SIPParser.Limits()
        limits.maxMessageSize = 1024
        var f = SIPStreamFramer(limits: limits)
        f.append(bytes("OPTIONS sip:a@example.com SIP/2.0\r\n"))
        XCTAssertNil(try f.next())
        let line = bytes("X-Filler: " + String(repeating: "a", count: 100) + "\r\n")
        var threw = false
        for _ in 0..<20 {
            f.append(line)
            do throws(SIPParseError) {
                _ = try f.next()
            } catch {
                XCTAssertEqual(error.kind, .tooLarge)
                threw = true
                break
            }
        }
        XCTAssertTrue(threw)
        XCTAssertLessThan(f.bufferedByteCount, 1024 + line.count + 64)
    }

    func testOversizedBodyRejectedBeforeBuffering() throws {
        var limits = SIPParser.Limits()
        limits.maxMessageSize = 1000
        var f = SIPStreamFramer(limits: limits)
        f.append(bytes("MESSAGE sip:a@example.com SIP/2.0\r\nContent-Length: 5000\r\n\r\n"))
        XCTAssertThrowsError(try f.next()) { error in
            XCTAssertEqual((error as? SIPParseError)?.kind, .tooLarge)
        }
    }

    func testFramedParseRequiresMatchingContentLength() throws {
        let p = SIPParser()
        XCTAssertThrowsError(try p.parse(framed: bytes("OPTIONS sip:a@example.com SIP/2.0\r\nCall-ID: 1\r\n\r\n")))
        XCTAssertThrowsError(try p.parse(framed: msg2 + bytes("x")))
        XCTAssertThrowsError(try p.parse(framed: Array(msg2.dropLast())))
        XCTAssertNoThrow(try p.parse(framed: msg1))
        // The same bytes with trailing garbage are fine as a datagram.
        XCTAssertEqual(try p.parse(datagram: msg2 + bytes("xyz")).body, bytes("hello"))
    }

    func testManyMessagesCompaction() throws {
        var f = SIPStreamFramer()
        var count = 0
        for _ in 0..<500 {
            f.append(msg1 + msg2)
            while try f.next() != nil { count += 1 }
        }
        XCTAssertEqual(count, 1000)
        XCTAssertEqual(f.bufferedByteCount, 0)
    }
}
