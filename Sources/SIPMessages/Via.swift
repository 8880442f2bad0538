/// One Via value: `SIP/2.0/UDP host:port;branch=...` (RFC 3261 §20.42).
public struct Via: Sendable, Hashable, CustomStringConvertible {
    /// Uppercased transport: "UDP", "TCP", "TLS", "SCTP", "WS", ...
    public var transport: String
    /// Lowercased host; IPv6 without brackets.
    public var host: String
    public var port: Int?
    /// Parameters: names lowercased, values as written.
    public var parameters: [URIParameter]
    /// sent-protocol name and version, "SIP" and "2.0" in practice. Other
    /// values are grammatical (RFC 3261 §25.1) and kept so that e.g. a 505 can
    /// still be routed back to a peer speaking another version.
    public var protocolName: String = "SIP"
    public var protocolVersion: String = "2.0"

    public init(transport: String, host: String, port: Int? = nil, parameters: [URIParameter] = []) {
        self.transport = uppercasedASCII(transport)
        self.host = lowercasedASCII(host)
        self.port = port
        self.parameters = parameters
    }

    public init(transport: String, host: String, port: Int? = nil, branch: String) {
        self.init(transport: transport, host: host, port: port, parameters: [URIParameter(name: "branch", value: branch)])
    }

    /// `nil`: absent; `.some(nil)`: present without value.
    public func parameter(_ name: String) -> String?? {
        for p in parameters where equalsIgnoringCase(p.name, name) { return .some(p.value) }
        return nil
    }

    private mutating func setParameter(_ name: String, present: Bool, value: String?) {
        if !present {
            parameters.removeAll { $0.name == name }
        } else if let i = parameters.firstIndex(where: { $0.name == name }) {
            parameters[i].value = value
        } else {
            parameters.append(URIParameter(name: name, value: value))
        }
    }

    public var branch: String? {
        get { parameter("branch") ?? nil }
        set { setParameter("branch", present: newValue != nil, value: newValue) }
    }

    public var received: String? {
        get { parameter("received") ?? nil }
        set { setParameter("received", present: newValue != nil, value: newValue) }
    }

    /// `nil`: absent; `.some(nil)`: `;rport` without value; `.some(p)`: `;rport=p`.
    public var rport: Int?? {
        get {
            guard let p = parameter("rport") else { return nil }
            guard let v = p else { return .some(nil) }
            return .some(Int(v))
        }
        set {
            switch newValue {
            case .none: setParameter("rport", present: false, value: nil)
            case .some(.none): setParameter("rport", present: true, value: nil)
            case .some(.some(let p)): setParameter("rport", present: true, value: String(p))
            }
        }
    }

    /// `host[:port]` with brackets for IPv6.
    public var sentBy: String {
        let h = host.utf8.contains(58) ? "[\(host)]" : host
        if let port { return "\(h):\(port)" }
        return h
    }

    public var description: String {
        "\(protocolName)/\(protocolVersion)/\(transport) \(sentBy)\(serializeParameters(parameters))"
    }

    public static func parse(_ text: String) throws(SIPParseError) -> Via {
        let b = Array(text.utf8)
        return try parse(b, 0, b.count)
    }

    static func parse(_ b: [UInt8], _ lo: Int, _ hi0: Int) throws(SIPParseError) -> Via {
        func fail(_ r: String) -> SIPParseError { .header("Via", r) }
        var i = skipLWS(b, lo, hi0)
        let hi = trimTrailingLWS(b, i, hi0)
        // sent-protocol: name SLASH version SLASH transport (SLASH = SWS "/" SWS)
        var parts: [Range<Int>] = []
        for k in 0..<3 {
            if k > 0 {
                i = skipLWS(b, i, hi)
                guard i < hi, b[i] == 47 else { throw fail("malformed sent-protocol") }
                i = skipLWS(b, i + 1, hi)
            }
            let s = i
            while i < hi, isToken(b[i]) { i += 1 }
            guard i > s else { throw fail("malformed sent-protocol") }
            parts.append(s..<i)
        }
        var protocolName = text(b, parts[0].lowerBound, parts[0].upperBound)
        if protocolName != "SIP" && equalsIgnoringCase(protocolName, "SIP") { protocolName = "SIP" }
        let protocolVersion = text(b, parts[1].lowerBound, parts[1].upperBound)
        let transport = uppercasedASCII(text(b, parts[2].lowerBound, parts[2].upperBound))
        guard i < hi, isLWSByte(b[i]) else { throw fail("missing sent-by") }
        i = skipLWS(b, i, hi)
        guard i < hi else { throw fail("missing sent-by") }
        let host: String
        if b[i] == 91 {
            var j = i + 1
            while j < hi, b[j] != 93 {
                guard hasClass(b[j], CharClass.hex) || b[j] == 58 || b[j] == 46 else { throw fail("invalid IPv6 reference") }
                j += 1
            }
            guard j < hi, j > i + 1 else { throw fail("unterminated IPv6 reference") }
            host = lowercasedASCII(b, i + 1, j)
            i = j + 1
        } else {
            let s = i
            while i < hi, hasClass(b[i], CharClass.host) { i += 1 }
            guard i > s else { throw fail("missing host") }
            host = lowercasedASCII(b, s, i)
        }
        var port: Int? = nil
        var j = skipLWS(b, i, hi)
        if j < hi, b[j] == 58 {
            j = skipLWS(b, j + 1, hi)
            let s = j
            while j < hi, isDigit(b[j]) { j += 1 }
            guard j - s <= 5, let p = parseDecimal(b, s, j, max: 65535) else { throw fail("invalid port") }
            port = Int(p)
            i = j
        }
        let params = try parseGenericParams(b, i, hi, header: "Via")
        for p in params where p.name == "rport" {
            if let v = p.value {
                guard v.utf8.count <= 5, let n = Int(v), n >= 0, n <= 65535 else { throw fail("invalid rport") }
            }
        }
        var via = Via(transport: transport, host: "", port: port, parameters: params)
        via.host = host
        via.protocolName = protocolName
        via.protocolVersion = protocolVersion
        return via
    }
}

/// The CSeq header: sequence number and method (RFC 3261 §20.16).
public struct CSeq: Sendable, Hashable, CustomStringConvertible {
    public var sequence: UInt32
    public var method: SIPMethod

    public init(sequence: UInt32, method: SIPMethod) {
        self.sequence = sequence
        self.method = method
    }

    public var description: String { "\(sequence) \(method.name)" }

    public static func parse(_ text: String) throws(SIPParseError) -> CSeq {
        let b = Array(text.utf8)
        return try parse(b, 0, b.count)
    }

    static func parse(_ b: [UInt8], _ lo: Int, _ hi0: Int) throws(SIPParseError) -> CSeq {
        var i = skipLWS(b, lo, hi0)
        let hi = trimTrailingLWS(b, i, hi0)
        let s = i
        while i < hi, isDigit(b[i]) { i += 1 }
        guard i > s else { throw .header("CSeq", "missing sequence number") }
        guard let n = parseDecimal(b, s, i, max: 0x7FFF_FFFF) else {
            throw .header("CSeq", "sequence number exceeds 2^31-1")
        }
        guard i < hi, isLWSByte(b[i]) else { throw .header("CSeq", "missing method") }
        i = skipLWS(b, i, hi)
        let m = i
        while i < hi, isToken(b[i]) { i += 1 }
        guard i > m, i == hi else { throw .header("CSeq", "invalid method") }
        return CSeq(sequence: UInt32(n), method: SIPMethod(text(b, m, i)))
    }
}
