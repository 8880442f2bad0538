/// A message (or header/URI) that could not be parsed.
public struct SIPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Malformed Request-Line or Status-Line (spacing, method, status code).
        case startLine
        /// SIP-Version other than SIP/2.0 (a UAS answers 505).
        case version
        /// Malformed URI (Request-URI or a URI inside a header).
        case uri
        /// Malformed header line or header value.
        case header
        /// A header required by the transport framing is missing (Content-Length on streams).
        case missingHeader
        /// Invalid, conflicting or impossible Content-Length.
        case contentLength
        /// CSeq method differs from the Request-Line method.
        case cseqMismatch
        /// Message, header line or body above the configured limits.
        case tooLarge
        /// More header fields than the configured limit.
        case tooManyHeaders
        /// The message ends before the end of the header section.
        case truncated
        /// Nothing but CRLFs (keep-alive) or no bytes at all.
        case empty
    }

    public var kind: Kind
    /// The header concerned (canonical name), if any.
    public var header: String?
    public var reason: String
    /// The response a UAS should send (400 mostly; 505 for a bad version, 513 for too large).
    public var statusCode: Int
    /// The request with its start line and headers, when enough was readable to
    /// route a response (top Via parseable, From, To, Call-ID and CSeq present).
    /// `uri` is `invalid:<raw>` (opaque) when the Request-URI itself was bad. Body is empty.
    public var partialRequest: SIPRequest?

    public init(kind: Kind, header: String? = nil, reason: String, statusCode: Int = 400, partialRequest: SIPRequest? = nil) {
        self.kind = kind
        self.header = header
        self.reason = reason
        self.statusCode = statusCode
        self.partialRequest = partialRequest
    }

    public var description: String {
        if let header { return "invalid \(header) header: \(reason) (\(statusCode))" }
        return "\(kind): \(reason) (\(statusCode))"
    }

    static func header(_ name: String, _ reason: String) -> SIPParseError {
        SIPParseError(kind: .header, header: name, reason: reason)
    }
    static func uri(_ reason: String) -> SIPParseError {
        SIPParseError(kind: .uri, reason: reason)
    }
}
