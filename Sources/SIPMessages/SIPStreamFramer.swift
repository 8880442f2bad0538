/// Splits a stream (TCP/TLS) into SIP messages per RFC 3261 §18.3: the header
/// section ends at CRLFCRLF and the body is exactly Content-Length octets
/// (required on streams). CRLFs between messages (RFC 5626 keep-alive pings
/// "\r\n\r\n" and pongs "\r\n") are skipped. Limits bound what a peer can make
/// us buffer. Any error is fatal for the connection (and is thrown again by
/// later calls to `next()`).
public struct SIPStreamFramer: Sendable {
    public let limits: SIPParser.Limits
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where to resume the CRLFCRLF search (absolute index).
    private var scanPos = 0
    /// Once the header section is complete: its end and the body length.
    private var pending: (headerEnd: Int, bodyLength: Int)? = nil
    private var failure: SIPParseError? = nil

    public init(limits: SIPParser.Limits = .init()) {
        self.limits = limits
    }

    /// Number of received octets not yet returned as messages.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Number of CRLF keep-alive octets skipped so far (useful to answer RFC 5626 pings).
    public private(set) var skippedKeepAliveBytes = 0

    public mutating func append(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
    }

    public mutating func append<S: Sequence>(contentsOf bytes: S) where S.Element == UInt8 {
        buffer.append(contentsOf: bytes)
    }

    /// The bytes of the next complete message, or nil if more data is needed.
    public mutating func next() throws(SIPParseError) -> [UInt8]? {
        if let failure { throw failure }
        do throws(SIPParseError) {
            return try nextMessage()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func nextMessage() throws(SIPParseError) -> [UInt8]? {
        let n = buffer.count
        if pending == nil {
            while start < n, buffer[start] == CR || buffer[start] == LF {
                start += 1
                skippedKeepAliveBytes += 1
            }
            if scanPos < start { scanPos = start }
            if start == n {
                compact(force: true)
                return nil
            }
            // Search for CRLFCRLF.
            var i = max(start, scanPos - 3)
            var headerEnd = -1
            while i + 3 < n {
                if buffer[i + 3] != LF { // quick skip
                    i += buffer[i + 3] == CR ? 1 : 4
                    continue
                }
                if buffer[i] == CR && buffer[i + 1] == LF && buffer[i + 2] == CR {
                    headerEnd = i + 4
                    break
                }
                i += 1
            }
            if headerEnd < 0 {
                scanPos = n
                if n - start > limits.maxMessageSize {
                    throw SIPParseError(kind: .tooLarge, reason: "header section exceeds \(limits.maxMessageSize) octets", statusCode: 513)
                }
                compact(force: false)
                return nil
            }
            let headerLength = headerEnd - start
            if headerLength > limits.maxMessageSize {
                throw SIPParseError(kind: .tooLarge, reason: "header section exceeds \(limits.maxMessageSize) octets", statusCode: 513)
            }
            let cl = try contentLength(start, headerEnd)
            if cl > limits.maxMessageSize - headerLength {
                throw SIPParseError(kind: .tooLarge, header: "Content-Length", reason: "message would exceed \(limits.maxMessageSize) octets", statusCode: 513)
            }
            pending = (headerEnd, cl)
        }
        guard let (headerEnd, bodyLength) = pending else { return nil }
        let end = headerEnd + bodyLength
        guard end <= buffer.count else { return nil }
        let message = Array(buffer[start..<end])
        start = end
        scanPos = end
        pending = nil
        compact(force: false)
        return message
    }

    /// Drops consumed bytes when worthwhile.
    private mutating func compact(force: Bool) {
        guard start > 0 else { return }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else if force || start >= 4096 && start * 2 >= buffer.count {
            buffer.removeSubrange(0..<start)
        } else {
            return
        }
        scanPos -= start
        if scanPos < 0 { scanPos = 0 }
        start = 0
    }

    /// Finds Content-Length / "l" in the header section `buffer[lo..<hi]` (which ends with CRLFCRLF).
    private func contentLength(_ lo: Int, _ hi: Int) throws(SIPParseError) -> Int {
        let b = buffer
        var found: Int? = nil
        // Skip the start line.
        var i = lo
        while i + 1 < hi, !(b[i] == CR && b[i + 1] == LF) { i += 1 }
        i += 2
        while i + 1 < hi {
            // i is at the start of a line.
            var e = i
            while e + 1 < hi, !(b[e] == CR && b[e + 1] == LF) { e += 1 }
            if e == i { break } // empty line
            // Logical header end (folding).
            var le = e
            while le + 2 < hi, isWSP(b[le + 2]) {
                var x = le + 2
                while x + 1 < hi, !(b[x] == CR && b[x + 1] == LF) { x += 1 }
                le = x
            }
            if !isWSP(b[i]) {
                var j = i
                while j < e, isToken(b[j]) { j += 1 }
                let nameEnd = j
                while j < e, isWSP(b[j]) { j += 1 }
                if j < e, b[j] == 58, isContentLengthName(b, i, nameEnd) {
                    var v = skipLWS(b, j + 1, le)
                    let s = v
                    while v < le, isDigit(b[v]) { v += 1 }
                    let d = v
                    v = skipLWS(b, v, le)
                    guard d > s, v == le, d - s <= 10, let value = parseDecimal(b, s, d, max: UInt64(Int32.max)) else {
                        throw SIPParseError(kind: .contentLength, header: "Content-Length", reason: "invalid Content-Length")
                    }
                    if let f = found, f != Int(value) {
                        throw SIPParseError(kind: .contentLength, header: "Content-Length", reason: "conflicting Content-Length values")
                    }
                    found = Int(value)
                }
            }
            i = le + 2
        }
        guard let found else {
            throw SIPParseError(kind: .missingHeader, header: "Content-Length", reason: "Content-Length is required on stream transports")
        }
        return found
    }

    private func isContentLengthName(_ b: [UInt8], _ lo: Int, _ hi: Int) -> Bool {
        if hi - lo == 1 { return lowerASCII(b[lo]) == 108 } // "l"
        guard hi - lo == 14 else { return false }
        var k = 0
        for c in "content-length".utf8 {
            if lowerASCII(b[lo + k]) != c { return false }
            k += 1
        }
        return true
    }
}
