public struct SIPRequest: Sendable, Equatable {
    public var method: SIPMethod
    public var uri: SIPURI
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(method: SIPMethod, uri: SIPURI, headers: SIPHeaders = SIPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }
}

public struct SIPResponse: Sendable, Equatable {
    public var statusCode: Int
    public var reason: String
    public var headers: SIPHeaders
    public var body: [UInt8]

    /// `reason` defaults to the standard phrase for `statusCode`.
    public init(statusCode: Int, reason: String? = nil, headers: SIPHeaders = SIPHeaders(), body: [UInt8] = []) {
        self.statusCode = statusCode
        self.reason = reason ?? SIPResponse.reasonPhrase(for: statusCode)
        self.headers = headers
        self.body = body
    }

    /// RFC 3261 §8.2.6: a response to `request`. Copies all Via (in order),
    /// From, To (adding `toTag` when given and To has none), Call-ID and CSeq;
    /// Content-Length 0.
    public init(to request: SIPRequest, statusCode: Int, reason: String? = nil, toTag: String? = nil) {
        var h = SIPHeaders()
        for field in request.headers.fields where SIPHeaders.matches(field.name, "Via") {
            h.add("Via", field.value)
        }
        if let from = request.headers["From"] { h.add("From", from) }
        if var to = request.headers["To"] {
            if let toTag {
                let hasTag = (try? NameAddress.parse(to))?.tag != nil
                if !hasTag { to += ";tag=\(toTag)" }
            }
            h.add("To", to)
        }
        if let callID = request.headers["Call-ID"] { h.add("Call-ID", callID) }
        if let cseq = request.headers["CSeq"] { h.add("CSeq", cseq) }
        h.add("Content-Length", "0")
        self.init(statusCode: statusCode, reason: reason, headers: h, body: [])
    }

    /// True for 1xx.
    public var isProvisional: Bool { statusCode < 200 }

    public static func reasonPhrase(for code: Int) -> String {
        switch code {
        case 100: return "Trying"
        case 180: return "Ringing"
        case 181: return "Call Is Being Forwarded"
        case 182: return "Queued"
        case 183: return "Session Progress"
        case 199: return "Early Dialog Terminated"
        case 200: return "OK"
        case 202: return "Accepted"
        case 204: return "No Notification"
        case 300: return "Multiple Choices"
        case 301: return "Moved Permanently"
        case 302: return "Moved Temporarily"
        case 305: return "Use Proxy"
        case 380: return "Alternative Service"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 402: return "Payment Required"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 406: return "Not Acceptable"
        case 407: return "Proxy Authentication Required"
        case 408: return "Request Timeout"
        case 410: return "Gone"
        case 412: return "Conditional Request Failed"
        case 413: return "Request Entity Too Large"
        case 414: return "Request-URI Too Long"
        case 415: return "Unsupported Media Type"
        case 416: return "Unsupported URI Scheme"
        case 417: return "Unknown Resource-Priority"
        case 420: return "Bad Extension"
        case 421: return "Extension Required"
        case 422: return "Session Interval Too Small"
        case 423: return "Interval Too Brief"
        case 428: return "Use Identity Header"
        case 429: return "Provide Referrer Identity"
        case 430: return "Flow Failed"
        case 433: return "Anonymity Disallowed"
        case 436: return "Bad Identity-Info"
        case 437: return "Unsupported Certificate"
        case 438: return "Invalid Identity Header"
        case 439: return "First Hop Lacks Outbound Support"
        case 440: return "Max-Breadth Exceeded"
        case 469: return "Bad Info Package"
        case 470: return "Consent Needed"
        case 480: return "Temporarily Unavailable"
        case 481: return "Call/Transaction Does Not Exist"
        case 482: return "Loop Detected"
        case 483: return "Too Many Hops"
        case 484: return "Address Incomplete"
        case 485: return "Ambiguous"
        case 486: return "Busy Here"
        case 487: return "Request Terminated"
        case 488: return "Not Acceptable Here"
        case 489: return "Bad Event"
        case 491: return "Request Pending"
        case 493: return "Undecipherable"
        case 494: return "Security Agreement Required"
        case 500: return "Server Internal Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Server Time-out"
        case 505: return "Version Not Supported"
        case 513: return "Message Too Large"
        case 555: return "Push Notification Service Not Supported"
        case 580: return "Precondition Failure"
        case 600: return "Busy Everywhere"
        case 603: return "Decline"
        case 604: return "Does Not Exist Anywhere"
        case 606: return "Not Acceptable"
        case 607: return "Unwanted"
        case 608: return "Rejected"
        case 100..<200: return "Trying"
        case 200..<300: return "OK"
        case 300..<400: return "Redirection"
        case 400..<500: return "Client Error"
        case 500..<600: return "Server Error"
        case 600..<700: return "Global Failure"
        default: return "Unknown"
        }
    }
}

public enum SIPMessage: Sendable, Equatable {
    case request(SIPRequest)
    case response(SIPResponse)

    public var headers: SIPHeaders {
        switch self {
        case .request(let r): return r.headers
        case .response(let r): return r.headers
        }
    }

    public var body: [UInt8] {
        switch self {
        case .request(let r): return r.body
        case .response(let r): return r.body
        }
    }

    public var request: SIPRequest? {
        if case .request(let r) = self { return r }
        return nil
    }

    public var response: SIPResponse? {
        if case .response(let r) = self { return r }
        return nil
    }
}

/// Typed accessors over `headers`. All return nil when the header is absent
/// or cannot be parsed.
public protocol SIPMessageHeaders {
    var headers: SIPHeaders { get }
}

extension SIPRequest: SIPMessageHeaders {}
extension SIPResponse: SIPMessageHeaders {}
extension SIPMessage: SIPMessageHeaders {}

extension SIPMessageHeaders {
    public var callID: String? { headers["Call-ID"] }

    public var cseq: CSeq? {
        guard let v = headers["CSeq"] else { return nil }
        return try? CSeq.parse(v)
    }

    /// All Via values, top first (unparseable values are skipped).
    public var vias: [Via] {
        headers.values("Via").compactMap { try? Via.parse($0) }
    }

    public var topVia: Via? {
        guard let first = headers.values("Via").first else { return nil }
        return try? Via.parse(first)
    }

    public var from: NameAddress? {
        guard let v = headers["From"] else { return nil }
        return try? NameAddress.parse(v)
    }

    public var to: NameAddress? {
        guard let v = headers["To"] else { return nil }
        return try? NameAddress.parse(v)
    }

    /// Contact values; `*` is skipped.
    public var contacts: [NameAddress] {
        headers.values("Contact").compactMap { $0 == "*" ? nil : try? NameAddress.parse($0) }
    }

    public var contentType: String? { headers["Content-Type"] }

    public var maxForwards: Int? {
        guard let v = headers["Max-Forwards"] else { return nil }
        let b = Array(v.utf8)
        guard b.count <= 10, let n = parseDecimal(b, 0, b.count, max: 255) else { return nil }
        return Int(n)
    }

    public var contentLength: Int? {
        guard let v = headers["Content-Length"] else { return nil }
        let b = Array(v.utf8)
        guard b.count <= 18, let n = parseDecimal(b, 0, b.count, max: UInt64(Int.max)) else { return nil }
        return Int(n)
    }
}

// MARK: - Serialization

extension SIPRequest {
    /// Wire form with CRLF line ends; Content-Length is set from `body`.
    public func serialize() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + headers.count * 48 + body.count)
        out.append(contentsOf: method.name.utf8)
        out.append(SP)
        out.append(contentsOf: uri.description.utf8)
        out.append(contentsOf: " SIP/2.0\r\n".utf8)
        serializeHeaders(headers, bodyCount: body.count, into: &out)
        out.append(contentsOf: body)
        return out
    }
}

extension SIPResponse {
    /// Wire form with CRLF line ends; Content-Length is set from `body`.
    public func serialize() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + headers.count * 48 + body.count)
        out.append(contentsOf: "SIP/2.0 \(statusCode) ".utf8)
        appendSanitized(reason, into: &out)
        out.append(CR)
        out.append(LF)
        serializeHeaders(headers, bodyCount: body.count, into: &out)
        out.append(contentsOf: body)
        return out
    }
}

extension SIPMessage {
    public func serialize() -> [UInt8] {
        switch self {
        case .request(let r): return r.serialize()
        case .response(let r): return r.serialize()
        }
    }
}

/// Appends text, replacing CR/LF (which would allow header injection) by SP.
private func appendSanitized(_ s: String, into out: inout [UInt8]) {
    for c in s.utf8 { out.append(c == CR || c == LF ? SP : c) }
}

private func serializeHeaders(_ headers: SIPHeaders, bodyCount: Int, into out: inout [UInt8]) {
    var wroteLength = false
    for h in headers.storage {
        if SIPHeaders.matches(h.name, "Content-Length") {
            if !wroteLength {
                out.append(contentsOf: "Content-Length: \(bodyCount)\r\n".utf8)
                wroteLength = true
            }
            continue
        }
        appendSanitized(h.name, into: &out)
        out.append(58)
        out.append(SP)
        appendSanitized(h.value, into: &out)
        out.append(CR)
        out.append(LF)
    }
    if !wroteLength { out.append(contentsOf: "Content-Length: \(bodyCount)\r\n".utf8) }
    out.append(CR)
    out.append(LF)
}
