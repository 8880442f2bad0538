// libFuzzer target for the SIP parser (SIPMessages). See docs/testing.md,
// "Fuzzing the SIP parser".
//
// Built two ways:
// - `swift build` (no sanitizer): `Replay.swift` provides `@main`, a corpus
//   replay tool that runs each file through `fuzz(_:_:)` below.
// - with `-sanitize=fuzzer,address -DFUZZING`: libFuzzer provides `main` and
//   calls `LLVMFuzzerTestOneInput` for every input it generates.
//
// Whatever the input, the parser must never trap, and the invariants checked
// here must hold; a violation calls `fatalError`, which libFuzzer reports as a
// crash and saves as `crash-<sha1>`.

import SIPMessages

/// The libFuzzer entry point. Always returns 0 (the input may be kept in the corpus).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    FuzzTarget.run(bytes)
    return 0
}

enum FuzzTarget {
    /// The parser as the daemon configures it (default limits).
    static let parser = SIPParser()

    /// For re-parsing what the serializer produced. Serializing can grow a
    /// message that was just inside the limits (a compact `v:` becomes `Via: `,
    /// `a:b` becomes `a: b`, a Content-Length is added when absent, which can
    /// make 129 fields out of 128), so the round trip uses limits large enough
    /// never to be the reason a re-parse fails.
    static let relaxed = SIPParser(limits: .init(maxMessageSize: 1 << 30, maxHeaderCount: 1 << 20, maxHeaderLineLength: 1 << 30))

    static func run(_ bytes: [UInt8]) {
        datagram(bytes)
        framedWhole(bytes)
        streamFramer(bytes)
        rawHeaderValues(bytes)
    }

    // MARK: - Datagram parse and serializer round trip

    static func datagram(_ bytes: [UInt8]) {
        let message: SIPMessage
        do {
            message = try parser.parse(datagram: bytes)
        } catch {
            rejected(error)
            return
        }
        accessors(message)
        for field in message.headers.fields {
            headerValue(field.value)
        }
        roundTrip(message)
    }

    /// A parse error must carry a status a UAS can send, and a partial request
    /// must be answerable.
    static func rejected(_ error: SIPParseError) {
        check(error.statusCode == 400 || error.statusCode == 505 || error.statusCode == 513,
              "unexpected status \(error.statusCode) in \(error)")
        _ = error.description
        if let partial = error.partialRequest {
            let response = SIPResponse(to: partial, statusCode: error.statusCode, toTag: "fuzz")
            _ = try? parser.parse(datagram: response.serialize())
        }
    }

    static func accessors(_ m: SIPMessage) {
        _ = (m.callID, m.cseq, m.vias, m.topVia, m.from, m.to, m.contacts)
        _ = (m.contentType, m.maxForwards, m.contentLength)
        for name in ["Via", "Contact", "Route", "Record-Route", "Allow", "Supported", "Require"] {
            _ = m.headers.values(name)
            _ = m.headers.rawValues(name)
        }
        switch m {
        case .request(let r):
            _ = r.uri.description
            _ = r.uri.hostPort
            let response = SIPResponse(to: r, statusCode: 200, toTag: "fuzz")
            _ = response.serialize()
        case .response(let r):
            _ = r.isProvisional
        }
    }

    /// Invariant: what parsed serializes to something that parses again, the
    /// same way as a datagram, as a framed message and through the stream
    /// framer, and serializing the re-parsed message gives the same octets.
    static func roundTrip(_ first: SIPMessage) {
        let wire = first.serialize()
        let second: SIPMessage
        do {
            second = try relaxed.parse(datagram: wire)
        } catch {
            fail("serialized message does not parse again: \(error)", wire)
        }
        let again = second.serialize()
        check(again == wire, "serialization is not stable after one round trip", wire, again)
        check(second.body == first.body, "body changed in the round trip", wire)
        do {
            let framed = try relaxed.parse(framed: wire)
            check(framed == second, "framed and datagram parses of the serialization differ", wire)
        } catch {
            fail("serialized message does not parse as a framed message: \(error)", wire)
        }
        var framer = SIPStreamFramer(limits: relaxed.limits)
        framer.append(wire)
        do {
            let frame = try framer.next()
            check(frame == wire, "the stream framer did not return the serialized message whole", wire)
            check(framer.bufferedByteCount == 0, "bytes left in the framer after the serialized message", wire)
        } catch {
            fail("the stream framer refused the serialized message: \(error)", wire)
        }
    }

    // MARK: - Framed parse

    /// `parse(framed:)` is `parse(datagram:)` plus a strict Content-Length:
    /// whatever it accepts, the datagram parse accepts identically.
    static func framedWhole(_ bytes: [UInt8]) {
        guard let framed = try? parser.parse(framed: bytes) else { return }
        do {
            let datagram = try parser.parse(datagram: bytes)
            check(datagram == framed, "framed and datagram parses differ", bytes)
        } catch {
            fail("accepted as framed but not as a datagram: \(error)", bytes)
        }
    }

    // MARK: - Stream framer

    /// Feeds the input in two chunks (split where the last byte says) and
    /// checks that the frames and the error are the same as with one chunk,
    /// and that every octet is accounted for.
    static func streamFramer(_ bytes: [UInt8]) {
        let split = bytes.isEmpty ? 0 : Int(bytes[bytes.count - 1]) % (bytes.count + 1)
        let whole = frames([bytes[...]])
        let chunked = frames([bytes[..<split], bytes[split...]])
        check(whole.frames == chunked.frames && whole.failed == chunked.failed,
              "stream framing depends on chunking (split at \(split)): \(whole.frames.count)/\(whole.failed) vs \(chunked.frames.count)/\(chunked.failed)",
              bytes)
        for frame in whole.frames {
            do {
                let m = try parser.parse(framed: frame)
                let d = try? parser.parse(datagram: frame)
                check(d == m, "a framed message parses differently as a datagram", frame)
                accessors(m)
            } catch {
                rejected(error)
            }
        }
    }

    static func frames(_ chunks: [ArraySlice<UInt8>]) -> (frames: [[UInt8]], failed: Bool) {
        var framer = SIPStreamFramer()
        var out: [[UInt8]] = []
        var appended = 0
        for chunk in chunks {
            framer.append(contentsOf: chunk)
            appended += chunk.count
            do {
                while let frame = try framer.next() {
                    out.append(frame)
                }
            } catch {
                // Fatal for the connection: later calls throw again.
                do {
                    _ = try framer.next()
                    fail("the framer recovered from a fatal error", [])
                } catch {
                    return (out, true)
                }
            }
            let accounted = out.reduce(0) { $0 + $1.count } + framer.skippedKeepAliveBytes + framer.bufferedByteCount
            check(accounted == appended, "framer lost or duplicated octets: \(accounted) accounted of \(appended)")
        }
        return (out, false)
    }

    // MARK: - Header sub-parsers

    /// Runs the header parsers on the text after the first ":" of every line
    /// of the raw input, whether or not the message as a whole parses.
    static func rawHeaderValues(_ bytes: [UInt8]) {
        var lineStart = 0
        var i = 0
        while i <= bytes.count {
            if i == bytes.count || bytes[i] == 10 {
                var end = i
                if end > lineStart, bytes[end - 1] == 13 { end -= 1 }
                if let colon = bytes[lineStart..<end].firstIndex(of: 58) {
                    headerValue(String(decoding: bytes[(colon + 1)..<end], as: UTF8.self))
                }
                lineStart = i + 1
            }
            i += 1
        }
    }

    /// Every sub-parser on one value; whatever parses must print to a form
    /// that parses again and prints the same.
    static func headerValue(_ value: String) {
        if let uri = try? SIPURI.parse(value) {
            reparse(uri.description, SIPURI.parse, "SIPURI")
            _ = uri.hostPort
        }
        if let na = try? NameAddress.parse(value) {
            reparse(na.description, NameAddress.parse, "NameAddress")
            _ = na.tag
        }
        if let via = try? Via.parse(value) {
            reparse(via.description, Via.parse, "Via")
            _ = (via.branch, via.received, via.rport, via.sentBy)
        }
        if let cseq = try? CSeq.parse(value) {
            check((try? CSeq.parse(cseq.description)) == cseq, "CSeq does not round-trip: \(cseq.description)")
        }
        digest(value)
    }

    static func reparse<T: CustomStringConvertible>(
        _ text: String, _ parse: (String) throws(SIPParseError) -> T, _ what: String
    ) {
        do {
            let again = try parse(text)
            check(again.description == text, "\(what) description is not stable: \(text) -> \(again.description)")
        } catch {
            fail("\(what) description does not parse again: \(error)", Array(text.utf8))
        }
    }

    // MARK: - Failure reporting

    static func check(_ condition: Bool, _ message: @autoclosure () -> String, _ input: [UInt8] = [], _ other: [UInt8] = []) {
        if !condition { fail(message(), input, other) }
    }

    static func fail(_ message: String, _ input: [UInt8], _ other: [UInt8] = []) -> Never {
        var text = "SIPParserFuzzer invariant violated: \(message)"
        if !input.isEmpty { text += "\n--- bytes:\n\(String(decoding: input, as: UTF8.self).debugDescription)" }
        if !other.isEmpty { text += "\n--- vs:\n\(String(decoding: other, as: UTF8.self).debugDescription)" }
        fatalError(text)
    }
}
