/// SIP message parser (RFC 3261 §7, §25; hardened against RFC 4475 torture tests).
///
/// Works on raw bytes with index scanning. It validates the syntax of the
/// start line and of the headers a UAS/proxy relies on (Via, From, To, Contact,
/// Route, Record-Route, CSeq, Call-ID, Content-Length, Max-Forwards, Expires,
/// Date, ...), but it does *not* reject missing mandatory headers or repeated
/// single-value headers: those are application-level errors (RFC 4475 §3.3)
/// for the layer above, which can detect them through the accessors.
public struct SIPParser: Sendable {
    public struct Limits: Sendable {
        public var maxMessageSize: Int = 65_535
        public var maxHeaderCount: Int = 128
        /// Maximum length of one (unfolded) header field or of the start line.
        public var maxHeaderLineLength: Int = 8_192

        public init() {}

        public init(maxMessageSize: Int, maxHeaderCount: Int = 128, maxHeaderLineLength: Int = 8_192) {
            self.maxMessageSize = maxMessageSize
            self.maxHeaderCount = maxHeaderCount
            self.maxHeaderLineLength = maxHeaderLineLength
        }
    }

    public var limits: Limits

    public init(limits: Limits = .init()) {
        self.limits = limits
    }

    /// Parses one complete message from a datagram (UDP). Octets after the
    /// body announced by Content-Length are ignored (RFC 4475 dblreq). Without
    /// Content-Length (or with conflicting values) the body is the rest of the datagram.
    public func parse(datagram: [UInt8]) throws(SIPParseError) -> SIPMessage {
        try parseMessage(datagram, framed: false)
    }

    /// Parses exactly one message whose framing was already done (stream
    /// transports, see `SIPStreamFramer`): Content-Length is required and must
    /// equal the body length.
    public func parse(framed: [UInt8]) throws(SIPParseError) -> SIPMessage {
        try parseMessage(framed, framed: true)
    }

    // MARK: - Implementation

    private enum StartLine {
        case request(SIPMethod, SIPURI?, rawURI: String)
        case response(Int, String)
    }

    private enum LineEnd {
        case found(Int)      // index of the CR of CRLF
        case missing         // ran out of data
        case bare(Int)       // bare CR or LF at index
    }

    @inline(__always)
    private func findLineEnd(_ b: [UInt8], _ from: Int, _ n: Int) -> LineEnd {
        var i = from
        while i < n {
            let c = b[i]
            if c == CR {
                if i + 1 < n {
                    return b[i + 1] == LF ? .found(i) : .bare(i)
                }
                return .missing
            }
            if c == LF { return .bare(i) }
            i += 1
        }
        return .missing
    }

    private func parseMessage(_ b: [UInt8], framed: Bool) throws(SIPParseError) -> SIPMessage {
        let n = b.count
        if n > limits.maxMessageSize {
            throw SIPParseError(kind: .tooLarge, reason: "message of \(n) octets exceeds the limit of \(limits.maxMessageSize)", statusCode: 513)
        }
        var pos = 0
        while pos < n, b[pos] == CR || b[pos] == LF { pos += 1 }
        guard pos < n else { throw SIPParseError(kind: .empty, reason: "empty message") }

        // Start line
        let lineEnd: Int
        switch findLineEnd(b, pos, n) {
        case .found(let e): lineEnd = e
        case .missing: throw SIPParseError(kind: .truncated, reason: "start line not terminated by CRLF")
        case .bare: throw SIPParseError(kind: .startLine, reason: "bare CR or LF in start line")
        }
        if lineEnd - pos > limits.maxHeaderLineLength {
            throw SIPParseError(kind: .tooLarge, reason: "start line too long", statusCode: 513)
        }
        var pending: SIPParseError? = nil
        let start = try parseStartLine(b, pos, lineEnd, deferred: &pending)
        pos = lineEnd + 2

        // Header fields
        var fields: [SIPHeader] = []
        fields.reserveCapacity(16)
        var bodyStart = -1
        var headerError: SIPParseError? = nil
        var scratch: [UInt8] = []
        headerLoop: while pos < n {
            let lineStart = pos
            var e: Int
            switch findLineEnd(b, pos, n) {
            case .found(let x): e = x
            case .missing:
                headerError = SIPParseError(kind: .truncated, reason: "header section not terminated")
                pos = n
                break headerLoop
            case .bare:
                headerError = SIPParseError(kind: .header, reason: "bare CR or LF in header section")
                pos = n
                break headerLoop
            }
            if e == lineStart { // empty line: end of headers
                bodyStart = e + 2
                break
            }
            if isWSP(b[lineStart]) {
                headerError = SIPParseError(kind: .header, reason: "continuation line without a header")
                break
            }
            // Name
            var i = lineStart
            while i < e, isToken(b[i]) { i += 1 }
            let nameEnd = i
            while i < e, isWSP(b[i]) { i += 1 }
            guard nameEnd > lineStart, i < e, b[i] == 58 else {
                headerError = SIPParseError(kind: .header, reason: "malformed header line (no name or colon)")
                break
            }
            let name = SIPHeaders.canonicalName(b, lineStart, nameEnd)
            let valueStart = i + 1
            // Continuation lines (folding)
            var folded = false
            var logicalEnd = e
            while logicalEnd + 2 < n, isWSP(b[logicalEnd + 2]) {
                switch findLineEnd(b, logicalEnd + 2, n) {
                case .found(let x):
                    logicalEnd = x
                    folded = true
                case .missing:
                    headerError = SIPParseError(kind: .truncated, reason: "header section not terminated")
                    pos = n
                    break headerLoop
                case .bare:
                    headerError = SIPParseError(kind: .header, reason: "bare CR or LF in header section")
                    pos = n
                    break headerLoop
                }
            }
            if logicalEnd - lineStart > limits.maxHeaderLineLength {
                headerError = SIPParseError(kind: .tooLarge, header: name, reason: "header field longer than \(limits.maxHeaderLineLength) octets", statusCode: 513)
                break
            }
            if fields.count >= limits.maxHeaderCount {
                headerError = SIPParseError(kind: .tooManyHeaders, reason: "more than \(limits.maxHeaderCount) header fields", statusCode: 513)
                break
            }
            let value: String
            if !folded {
                let lo = skipLWS(b, valueStart, e)
                value = text(b, lo, trimTrailingLWS(b, lo, e))
            } else {
                // Replace each CRLF + leading WSP by a single SP.
                scratch.removeAll(keepingCapacity: true)
                var j = valueStart
                while j < logicalEnd {
                    let c = b[j]
                    if c == CR {
                        scratch.append(SP)
                        j += 2
                        while j < logicalEnd, isWSP(b[j]) { j += 1 }
                    } else {
                        scratch.append(c)
                        j += 1
                    }
                }
                let lo = skipLWS(scratch, 0, scratch.count)
                value = text(scratch, lo, trimTrailingLWS(scratch, lo, scratch.count))
            }
            fields.append(SIPHeader(name: name, value: value))
            pos = logicalEnd + 2
        }
        if headerError == nil && bodyStart < 0 {
            headerError = SIPParseError(kind: .truncated, reason: "missing empty line after the header section")
        }

        // Validation
        var method: SIPMethod? = nil
        if case .request(let m, _, _) = start { method = m }
        var v = Validation()
        v.run(fields, method: method)

        func fail(_ err: SIPParseError) -> SIPParseError {
            var err = err
            if case .request(let m, let uri, let raw) = start, v.routable {
                let u = uri ?? SIPURI(scheme: "invalid", opaque: raw)
                err.partialRequest = SIPRequest(method: m, uri: u, headers: SIPHeaders(fields), body: [])
            }
            return err
        }
        if let pending { throw fail(pending) }
        if let e = v.error { throw fail(e) }
        if let headerError { throw fail(headerError) }

        // Body
        let available = n - bodyStart
        let lengths = v.contentLengths
        let conflicting = lengths.contains { $0 != lengths[0] }
        var bodyEnd = n
        if framed {
            guard let cl = lengths.first else {
                throw fail(SIPParseError(kind: .missingHeader, header: "Content-Length", reason: "Content-Length is required on stream transports"))
            }
            if conflicting {
                throw fail(SIPParseError(kind: .contentLength, header: "Content-Length", reason: "conflicting Content-Length values"))
            }
            if cl != available {
                throw fail(SIPParseError(kind: .contentLength, header: "Content-Length", reason: "Content-Length \(cl) does not match the \(available) octets of the body"))
            }
        } else if let cl = lengths.first, !conflicting {
            if cl > available {
                throw fail(SIPParseError(kind: .contentLength, header: "Content-Length", reason: "Content-Length \(cl) exceeds the \(available) octets available"))
            }
            bodyEnd = bodyStart + cl
        }
        let body = bodyStart < bodyEnd ? Array(b[bodyStart..<bodyEnd]) : []
        let headers = SIPHeaders(fields)
        switch start {
        case .request(let m, let uri, let raw):
            return .request(SIPRequest(method: m, uri: uri ?? SIPURI(scheme: "invalid", opaque: raw), headers: headers, body: body))
        case .response(let code, let reason):
            return .response(SIPResponse(statusCode: code, reason: reason, headers: headers, body: body))
        }
    }

    /// Parses the start line `b[lo..<hi]`. Errors that still allow reading the
    /// headers (bad Request-URI, version, spacing after a valid method) are
    /// returned in `deferred` so that a 400/505 can be routed.
    private func parseStartLine(_ b: [UInt8], _ lo: Int, _ hi: Int, deferred: inout SIPParseError?) throws(SIPParseError) -> StartLine {
        // Status-Line: SIP-Version SP Status-Code SP Reason-Phrase
        if hi - lo >= 4, lowerASCII(b[lo]) == 115, lowerASCII(b[lo + 1]) == 105, lowerASCII(b[lo + 2]) == 112, b[lo + 3] == 47 {
            var i = lo
            while i < hi, b[i] != SP { i += 1 }
            try checkVersion(b, lo, i)
            guard i < hi else { throw SIPParseError(kind: .startLine, reason: "missing status code") }
            let c = i + 1
            var j = c
            while j < hi, isDigit(b[j]) { j += 1 }
            guard j - c == 3, j == hi || b[j] == SP, let code = parseDecimal(b, c, j, max: 699), code >= 100 else {
                throw SIPParseError(kind: .startLine, reason: "status code must be 3 digits between 100 and 699")
            }
            let reason = j < hi ? text(b, j + 1, hi) : ""
            for k in j..<hi where b[k] < 32 && b[k] != HT {
                throw SIPParseError(kind: .startLine, reason: "control character in reason phrase")
            }
            return .response(Int(code), reason)
        }
        // Request-Line: Method SP Request-URI SP SIP-Version
        var i = lo
        while i < hi, isToken(b[i]) { i += 1 }
        guard i > lo, i < hi, b[i] == SP else {
            throw SIPParseError(kind: .startLine, reason: "malformed request line (method)")
        }
        let method = SIPMethod(text(b, lo, i))
        let rest = i + 1
        var lastSP = -1
        var k = hi - 1
        while k >= rest {
            if b[k] == SP {
                lastSP = k
                break
            }
            k -= 1
        }
        guard lastSP >= rest else {
            deferred = SIPParseError(kind: .startLine, reason: "malformed request line (missing SIP-Version)")
            return .request(method, nil, rawURI: sanitizedRaw(b, rest, hi))
        }
        let uLo = rest, uHi = lastSP
        let raw = sanitizedRaw(b, uLo, uHi)
        if isWSP(b[hi - 1]) {
            deferred = SIPParseError(kind: .startLine, reason: "whitespace at the end of the request line")
            return .request(method, nil, rawURI: raw)
        }
        if uLo == uHi || isWSP(b[uLo]) || isWSP(b[uHi - 1]) {
            deferred = SIPParseError(kind: .startLine, reason: "request line elements must be separated by a single SP")
            return .request(method, nil, rawURI: raw)
        }
        do throws(SIPParseError) {
            try checkVersion(b, lastSP + 1, hi)
        } catch {
            deferred = error
        }
        for j in uLo..<uHi where isWSP(b[j]) {
            if deferred == nil { deferred = .uri("whitespace in Request-URI") }
            return .request(method, nil, rawURI: raw)
        }
        if b[uLo] == 60 {
            if deferred == nil { deferred = .uri("Request-URI must not be enclosed in <>") }
            return .request(method, nil, rawURI: raw)
        }
        do throws(SIPParseError) {
            let uri = try SIPURI.parse(b, uLo, uHi)
            if uri.isSIP && !uri.headers.isEmpty {
                if deferred == nil { deferred = .uri("headers are not allowed in a SIP Request-URI") }
                return .request(method, nil, rawURI: raw)
            }
            return .request(method, uri, rawURI: raw)
        } catch {
            if deferred == nil { deferred = error }
            return .request(method, nil, rawURI: raw)
        }
    }

    private func sanitizedRaw(_ b: [UInt8], _ lo: Int, _ hi: Int) -> String {
        text(b, lo, hi)
    }

    private func checkVersion(_ b: [UInt8], _ lo: Int, _ hi: Int) throws(SIPParseError) {
        // "SIP/" 1*DIGIT "." 1*DIGIT
        if hi - lo == 7, lowerASCII(b[lo]) == 115, lowerASCII(b[lo + 1]) == 105, lowerASCII(b[lo + 2]) == 112,
           b[lo + 3] == 47, b[lo + 4] == 50, b[lo + 5] == 46, b[lo + 6] == 48 {
            return
        }
        var wellFormed = hi - lo >= 7 && lowerASCII(b[lo]) == 115 && lowerASCII(b[lo + 1]) == 105
            && lowerASCII(b[lo + 2]) == 112 && b[lo + 3] == 47
        if wellFormed {
            var dots = 0, digits = 0
            for j in (lo + 4)..<hi {
                if b[j] == 46 { dots += 1 } else if isDigit(b[j]) { digits += 1 } else { wellFormed = false }
            }
            wellFormed = wellFormed && dots == 1 && digits >= 2 && b[lo + 4] != 46 && b[hi - 1] != 46
        }
        if wellFormed {
            throw SIPParseError(kind: .version, reason: "unsupported SIP version \(text(b, lo, hi))", statusCode: 505)
        }
        throw SIPParseError(kind: .startLine, reason: "malformed SIP-Version")
    }
}

/// Per-header syntax checks. Keeps the first error and the facts needed to
/// decide whether a 400 can be routed.
private struct Validation {
    var error: SIPParseError? = nil
    var contentLengths: [Int] = []
    var topViaOK = false
    var sawVia = false
    var hasFrom = false, hasTo = false, hasCallID = false, hasCSeq = false

    var routable: Bool { topViaOK && hasFrom && hasTo && hasCallID && hasCSeq }

    mutating func record(_ e: SIPParseError) {
        if error == nil { error = e }
    }

    mutating func run(_ fields: [SIPHeader], method: SIPMethod?) {
        for f in fields {
            switch f.name {
            case "Via": checkVia(f.value)
            case "From":
                hasFrom = true
                checkNameAddr(f.value, "From", list: false)
            case "To":
                hasTo = true
                checkNameAddr(f.value, "To", list: false)
            case "Contact":
                checkNameAddr(f.value, "Contact", list: true, allowStar: true)
            case "Route", "Record-Route", "Path", "Service-Route":
                checkNameAddr(f.value, f.name, list: true)
            case "Reply-To", "Refer-To", "Referred-By":
                checkNameAddr(f.value, f.name, list: false)
            case "Call-ID":
                hasCallID = true
                checkCallID(f.value)
            case "CSeq":
                hasCSeq = true
                checkCSeq(f.value, method: method)
            case "Content-Length":
                let b = Array(f.value.utf8)
                if b.count <= 10, let cl = parseDecimal(b, 0, b.count, max: UInt64(Int32.max)) {
                    contentLengths.append(Int(cl))
                } else {
                    record(SIPParseError(kind: .contentLength, header: "Content-Length", reason: "not a non-negative integer: \(f.value)"))
                }
            case "Max-Forwards":
                checkNumber(f.value, "Max-Forwards", max: 255)
            case "Expires", "Min-Expires":
                checkNumber(f.value, f.name, max: 0xFFFF_FFFF)
            case "Retry-After":
                checkRetryAfter(f.value)
            case "Date":
                if !isValidRFC1123Date(f.value) {
                    record(.header("Date", "not an RFC 1123 date in GMT"))
                }
            case "Warning":
                checkWarning(f.value)
            default:
                break
            }
        }
    }

    mutating func checkVia(_ value: String) {
        let b = Array(value.utf8)
        let first = !sawVia
        sawVia = true
        for (k, r) in splitListRanges(b, 0, b.count).enumerated() {
            do throws(SIPParseError) {
                _ = try Via.parse(b, r.lowerBound, r.upperBound)
                if first && k == 0 { topViaOK = true }
            } catch {
                record(error)
            }
        }
    }

    mutating func checkNameAddr(_ value: String, _ name: String, list: Bool, allowStar: Bool = false) {
        let b = Array(value.utf8)
        let ranges = list ? splitListRanges(b, 0, b.count) : [0..<b.count]
        for r in ranges {
            let lo = skipLWS(b, r.lowerBound, r.upperBound)
            let hi = trimTrailingLWS(b, lo, r.upperBound)
            if allowStar && hi - lo == 1 && b[lo] == 42 { continue }
            do throws(SIPParseError) {
                _ = try NameAddress.parse(b, lo, hi, header: name)
            } catch {
                record(error)
            }
        }
    }

    mutating func checkCallID(_ value: String) {
        guard !value.isEmpty else {
            record(.header("Call-ID", "empty Call-ID"))
            return
        }
        for c in value.utf8 where c <= 32 || c == 127 {
            record(.header("Call-ID", "whitespace or control character in Call-ID"))
            return
        }
    }

    mutating func checkCSeq(_ value: String, method: SIPMethod?) {
        do throws(SIPParseError) {
            let cseq = try CSeq.parse(value)
            if let method, cseq.method != method {
                record(SIPParseError(kind: .cseqMismatch, header: "CSeq", reason: "CSeq method \(cseq.method) does not match request method \(method)"))
            }
        } catch {
            record(error)
        }
    }

    mutating func checkNumber(_ value: String, _ name: String, max: UInt64) {
        let b = Array(value.utf8)
        if parseDecimal(b, 0, b.count, max: max) == nil {
            record(.header(name, "not an integer between 0 and \(max)"))
        }
    }

    mutating func checkRetryAfter(_ value: String) {
        let b = Array(value.utf8)
        var i = 0
        while i < b.count, isDigit(b[i]) { i += 1 }
        if parseDecimal(b, 0, i, max: 0xFFFF_FFFF) == nil {
            record(.header("Retry-After", "delta-seconds missing or larger than 2^32-1"))
        }
    }

    mutating func checkWarning(_ value: String) {
        let b = Array(value.utf8)
        for r in splitListRanges(b, 0, b.count) {
            let lo = skipLWS(b, r.lowerBound, r.upperBound)
            guard r.upperBound - lo >= 4, isDigit(b[lo]), isDigit(b[lo + 1]), isDigit(b[lo + 2]), b[lo + 3] == SP else {
                record(.header("Warning", "warn-code must be 3 digits"))
                return
            }
        }
    }
}

/// RFC 1123 date as required by RFC 3261 §20.17: `Sat, 13 Nov 2010 23:29:00 GMT`.
func isValidRFC1123Date(_ value: String) -> Bool {
    let b = Array(value.utf8)
    guard b.count == 29 else { return false }
    func lower(_ lo: Int, _ n: Int) -> String { String(decoding: b[lo..<(lo + n)].map(lowerASCII), as: UTF8.self) }
    func digits(_ lo: Int, _ n: Int) -> Int? {
        var v = 0
        for i in lo..<(lo + n) {
            guard isDigit(b[i]) else { return nil }
            v = v * 10 + Int(b[i] - 48)
        }
        return v
    }
    let days: Set<String> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    let months: Set<String> = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    guard days.contains(lower(0, 3)), b[3] == 44, b[4] == SP,
          let day = digits(5, 2), day >= 1, day <= 31, b[7] == SP,
          months.contains(lower(8, 3)), b[11] == SP,
          digits(12, 4) != nil, b[16] == SP,
          let h = digits(17, 2), h <= 23, b[19] == 58,
          let m = digits(20, 2), m <= 59, b[22] == 58,
          let s = digits(23, 2), s <= 60, b[25] == SP,
          b[26] == 71, b[27] == 77, b[28] == 84 // "GMT" (case-sensitive per RFC 3261)
    else { return false }
    return true
}
