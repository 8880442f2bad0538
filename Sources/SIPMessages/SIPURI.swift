/// A `;name=value` parameter (value optional) of a URI or header, or a `?h=v` URI header.
public struct URIParameter: Sendable, Hashable {
    public var name: String
    public var value: String?

    public init(name: String, value: String? = nil) {
        self.name = name
        self.value = value
    }
}

/// A SIP/SIPS URI (RFC 3261 §19.1), or any other absolute URI kept opaque.
public struct SIPURI: Sendable, Hashable, CustomStringConvertible {
    /// Lowercased scheme: "sip", "sips", "tel", ...
    public var scheme: String
    /// User part, percent-decoded.
    public var user: String?
    /// Password, percent-decoded.
    public var password: String?
    /// Lowercased host; IPv6 without brackets. Empty for opaque URIs.
    public var host: String
    public var port: Int?
    /// `;name=value` parameters: names lowercased, names and values percent-decoded.
    public var parameters: [URIParameter]
    /// `?h=v&h2=v2` headers, percent-decoded.
    public var headers: [URIParameter]
    /// Everything after "scheme:" for non-sip(s) schemes; nil for sip/sips.
    public var opaque: String?

    public init(scheme: String = "sip", user: String? = nil, host: String, port: Int? = nil, parameters: [URIParameter] = []) {
        self.scheme = lowercasedASCII(scheme)
        self.user = user
        self.password = nil
        self.host = lowercasedASCII(host)
        self.port = port
        self.parameters = parameters
        self.headers = []
        self.opaque = nil
    }

    /// An opaque absolute URI such as `tel:+15551234` (`opaque` = "+15551234").
    public init(scheme: String, opaque: String) {
        self.scheme = lowercasedASCII(scheme)
        self.user = nil
        self.password = nil
        self.host = ""
        self.port = nil
        self.parameters = []
        self.headers = []
        self.opaque = opaque
    }

    /// True for sip: and sips: URIs (parsed into components).
    public var isSIP: Bool { opaque == nil && (scheme == "sip" || scheme == "sips") }

    public static func parse(_ text: String) throws(SIPParseError) -> SIPURI {
        let b = Array(text.utf8)
        return try parse(b, 0, b.count)
    }

    /// `nil`: absent; `.some(nil)`: present without value; `.some(v)`: value.
    public func parameter(_ name: String) -> String?? {
        for p in parameters where equalsIgnoringCase(p.name, name) { return .some(p.value) }
        return nil
    }

    /// Sets (or with `nil` value, sets valueless) a parameter, replacing an existing one.
    public mutating func setParameter(_ name: String, _ value: String?) {
        let n = lowercasedASCII(name)
        if let i = parameters.firstIndex(where: { $0.name == n }) {
            parameters[i].value = value
        } else {
            parameters.append(URIParameter(name: n, value: value))
        }
    }

    public mutating func removeParameter(_ name: String) {
        parameters.removeAll { equalsIgnoringCase($0.name, name) }
    }

    /// `host` with brackets for IPv6, plus `:port` when present.
    public var hostPort: String {
        let h = host.utf8.contains(58) ? "[\(host)]" : host
        if let port { return "\(h):\(port)" }
        return h
    }

    public var description: String {
        if let opaque { return "\(scheme):\(opaque)" }
        var s = scheme
        s += ":"
        if let user {
            s += percentEncode(user, allowed: CharClass.unreserved | CharClass.userExtra)
            if let password {
                s += ":"
                s += percentEncode(password, allowed: CharClass.unreserved | CharClass.passwordExtra)
            }
            s += "@"
        }
        s += hostPort
        let pAllowed = CharClass.unreserved | CharClass.paramExtra
        for p in parameters {
            s += ";"
            s += percentEncode(p.name, allowed: pAllowed)
            if let v = p.value {
                s += "="
                s += percentEncode(v, allowed: pAllowed)
            }
        }
        let hAllowed = CharClass.unreserved | CharClass.hnvExtra
        for (i, h) in headers.enumerated() {
            s += i == 0 ? "?" : "&"
            s += percentEncode(h.name, allowed: hAllowed)
            s += "="
            s += percentEncode(h.value ?? "", allowed: hAllowed)
        }
        return s
    }

    // MARK: - Parsing

    /// Parses `b[lo..<hi]` as an absolute URI.
    static func parse(_ b: [UInt8], _ lo: Int, _ hi: Int) throws(SIPParseError) -> SIPURI {
        guard lo < hi else { throw .uri("empty URI") }
        guard hasClass(b[lo], CharClass.alpha) else { throw .uri("URI does not start with a scheme") }
        var i = lo + 1
        while i < hi, hasClass(b[i], CharClass.schemeChar) { i += 1 }
        guard i < hi, b[i] == 58 else { throw .uri("missing ':' after URI scheme") }
        let scheme = lowercasedASCII(b, lo, i)
        i += 1
        for j in i..<hi {
            let c = b[j]
            if c <= 32 || c == 127 || c == 60 || c == 62 || c == 34 || c >= 128 {
                throw .uri("invalid character in URI")
            }
        }
        if scheme == "sip" || scheme == "sips" {
            return try parseSIP(scheme: scheme, b, i, hi)
        }
        guard i < hi else { throw .uri("empty \(scheme) URI") }
        return SIPURI(scheme: scheme, opaque: text(b, i, hi))
    }

    private static func checkChars(_ b: [UInt8], _ lo: Int, _ hi: Int, _ allowed: UInt16, _ what: String) throws(SIPParseError) {
        for j in lo..<max(lo, hi) {
            let c = b[j]
            if c != 37 && !hasClass(c, allowed) { throw .uri("invalid character in \(what)") }
        }
    }

    private static func parseSIP(scheme: String, _ b: [UInt8], _ start: Int, _ hi: Int) throws(SIPParseError) -> SIPURI {
        var uri = SIPURI(scheme: scheme, host: "")
        var i = start
        // userinfo: up to the first "@" (user/password cannot contain an unescaped "@").
        var at = -1
        for j in start..<hi where b[j] == 64 {
            at = j
            break
        }
        if at >= 0 {
            var colon = at
            for j in start..<at where b[j] == 58 {
                colon = j
                break
            }
            guard colon > start else { throw .uri("empty user part") }
            try checkChars(b, start, colon, CharClass.unreserved | CharClass.userExtra, "user part")
            uri.user = percentDecode(b, start, colon)
            if colon < at {
                try checkChars(b, colon + 1, at, CharClass.unreserved | CharClass.passwordExtra, "password")
                uri.password = percentDecode(b, colon + 1, at)
            }
            i = at + 1
        }
        // host
        guard i < hi else { throw .uri("missing host") }
        if b[i] == 91 { // '['
            var j = i + 1
            while j < hi, b[j] != 93 {
                let c = b[j]
                guard hasClass(c, CharClass.hex) || c == 58 || c == 46 else { throw .uri("invalid IPv6 reference") }
                j += 1
            }
            guard j < hi, j > i + 1 else { throw .uri("unterminated IPv6 reference") }
            uri.host = lowercasedASCII(b, i + 1, j)
            i = j + 1
        } else {
            let h = i
            while i < hi, hasClass(b[i], CharClass.host) { i += 1 }
            guard i > h else { throw .uri("missing host") }
            uri.host = lowercasedASCII(b, h, i)
        }
        if i < hi, b[i] == 58 {
            let p = i + 1
            i = p
            while i < hi, isDigit(b[i]) { i += 1 }
            guard i - p <= 5, let port = parseDecimal(b, p, i, max: 65535) else { throw .uri("invalid port") }
            uri.port = Int(port)
        }
        // parameters
        let pAllowed = CharClass.unreserved | CharClass.paramExtra
        while i < hi, b[i] == 59 {
            let n = i + 1
            var j = n
            while j < hi, b[j] != 61, b[j] != 59, b[j] != 63 { j += 1 }
            guard j > n else { throw .uri("empty URI parameter") }
            try checkChars(b, n, j, pAllowed, "URI parameter")
            let name = lowercasedASCII(percentDecode(b, n, j))
            var value: String? = nil
            if j < hi, b[j] == 61 {
                let v = j + 1
                j = v
                while j < hi, b[j] != 59, b[j] != 63 { j += 1 }
                try checkChars(b, v, j, pAllowed, "URI parameter value")
                value = percentDecode(b, v, j)
            }
            uri.parameters.append(URIParameter(name: name, value: value))
            i = j
        }
        // headers
        if i < hi, b[i] == 63 {
            let hAllowed = CharClass.unreserved | CharClass.hnvExtra
            i += 1
            while true {
                let n = i
                var j = n
                while j < hi, b[j] != 61, b[j] != 38 { j += 1 }
                guard j > n else { throw .uri("empty URI header name") }
                try checkChars(b, n, j, hAllowed, "URI header")
                let name = percentDecode(b, n, j)
                var value: String? = nil
                if j < hi, b[j] == 61 {
                    let v = j + 1
                    j = v
                    while j < hi, b[j] != 38 { j += 1 }
                    try checkChars(b, v, j, hAllowed, "URI header value")
                    value = percentDecode(b, v, j)
                }
                uri.headers.append(URIParameter(name: name, value: value))
                i = j
                if i < hi, b[i] == 38 { i += 1 } else { break }
            }
        }
        guard i == hi else { throw .uri("unexpected character in URI") }
        return uri
    }
}
