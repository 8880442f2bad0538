// Digest authentication header values (RFC 3261 §22.4 and §25.1, RFC 7616, RFC 8760):
// WWW-Authenticate / Proxy-Authenticate challenges and Authorization /
// Proxy-Authorization credentials. The hashing lives in SIPStack (DigestMath).

/// A digest algorithm (RFC 7616 §3.3, RFC 8760 §2). Tokens compare
/// case-insensitively; a missing `algorithm` parameter means MD5.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case md5 = "MD5"
    case md5Session = "MD5-sess"
    case sha256 = "SHA-256"
    case sha256Session = "SHA-256-sess"

    /// Case-insensitive lookup of an `algorithm` token ("md5", "sha-256-SESS", ...).
    public init?(token: String) {
        for a in DigestAlgorithm.allCases where equalsIgnoringCase(a.rawValue, token) {
            self = a
            return
        }
        return nil
    }

    /// `-sess` variants hash the nonce and cnonce into HA1 (RFC 7616 §3.4.2).
    public var isSession: Bool { self == .md5Session || self == .sha256Session }

    /// Higher is stronger; used to choose among several challenges (RFC 8760 §2.4).
    public var strength: Int {
        switch self {
        case .md5, .md5Session: return 1
        case .sha256, .sha256Session: return 2
        }
    }
}

/// A Digest challenge: the value of one WWW-Authenticate or Proxy-Authenticate
/// field (RFC 7616 §3.3; SIP carries one challenge per field, RFC 3261 §20.44).
public struct DigestChallenge: Sendable, Equatable, CustomStringConvertible {
    public var realm: String
    public var nonce: String
    public var opaque: String?
    public var algorithm: DigestAlgorithm
    /// Offered qop values, lowercased ("auth", "auth-int"); empty: RFC 2069 style.
    public var qop: [String]
    /// The previous request carried a valid digest for an expired nonce (RFC 7616 §3.3).
    public var stale: Bool
    public var domain: String?
    /// The server asks for a hashed username (RFC 7616 §3.4.4).
    public var userhash: Bool

    public init(realm: String, nonce: String, opaque: String? = nil, algorithm: DigestAlgorithm = .md5,
                qop: [String] = ["auth"], stale: Bool = false, domain: String? = nil, userhash: Bool = false) {
        self.realm = realm
        self.nonce = nonce
        self.opaque = opaque
        self.algorithm = algorithm
        self.qop = qop
        self.stale = stale
        self.domain = domain
        self.userhash = userhash
    }

    /// Parses `Digest realm="...", nonce="...", ...`. Unknown parameters are ignored;
    /// a missing realm or nonce, an unknown algorithm or a duplicate parameter is an error.
    public static func parse(_ value: String, header: String = "WWW-Authenticate") throws(SIPParseError) -> DigestChallenge {
        let params = try parseDigestParams(value, header: header)
        var realm: String? = nil
        var nonce: String? = nil
        var c = DigestChallenge(realm: "", nonce: "", qop: [])
        for p in params {
            switch p.name {
            case "realm": realm = p.value
            case "nonce": nonce = p.value
            case "opaque": c.opaque = p.value
            case "domain": c.domain = p.value
            case "algorithm":
                guard let a = DigestAlgorithm(token: p.value) else {
                    throw .header(header, "unsupported algorithm \(p.value)")
                }
                c.algorithm = a
            case "qop":
                // qop-options is a quoted, comma-separated list (RFC 7616 §3.3).
                c.qop = p.value.split(separator: ",").map { lowercasedASCII(trimmedLWS(String($0))) }.filter { !$0.isEmpty }
            case "stale": c.stale = equalsIgnoringCase(p.value, "true")
            case "userhash": c.userhash = equalsIgnoringCase(p.value, "true")
            default: continue
            }
        }
        guard let realm else { throw .header(header, "missing realm") }
        guard let nonce else { throw .header(header, "missing nonce") }
        c.realm = realm
        c.nonce = nonce
        return c
    }

    /// Picks one challenge among several header values: the strongest supported
    /// algorithm, the first one on ties (RFC 8760 §2.4). Unparseable values and
    /// challenges of other schemes are skipped.
    public static func preferred(among values: [String],
                                 supported: Set<DigestAlgorithm> = Set(DigestAlgorithm.allCases),
                                 header: String = "WWW-Authenticate") -> DigestChallenge? {
        var best: DigestChallenge? = nil
        for v in values {
            guard let c = try? parse(v, header: header), supported.contains(c.algorithm) else { continue }
            if let b = best, c.algorithm.strength <= b.algorithm.strength { continue }
            best = c
        }
        return best
    }

    public var description: String {
        var s = "Digest realm=\(quote(realm)), nonce=\(quote(nonce))"
        if let opaque { s += ", opaque=\(quote(opaque))" }
        s += ", algorithm=\(algorithm.rawValue)"
        if !qop.isEmpty { s += ", qop=\(quote(qop.joined(separator: ",")))" }
        if stale { s += ", stale=true" }
        if let domain { s += ", domain=\(quote(domain))" }
        if userhash { s += ", userhash=true" }
        return s
    }
}

/// Digest credentials: the value of an Authorization or Proxy-Authorization
/// field (RFC 7616 §3.4, RFC 3261 §22.4).
public struct DigestCredentials: Sendable, Equatable, CustomStringConvertible {
    /// The username, or H(username:realm) when `userhash` is set (RFC 7616 §3.4.4).
    public var username: String
    public var realm: String
    public var nonce: String
    /// The digest-uri, normally the Request-URI as sent (RFC 3261 §22.4).
    public var uri: String
    /// Lowercase hex request-digest.
    public var response: String
    public var algorithm: DigestAlgorithm
    public var cnonce: String?
    public var opaque: String?
    /// Chosen qop, lowercased ("auth"); nil for RFC 2069 style.
    public var qop: String?
    /// nonce-count: exactly 8 hex digits ("00000001").
    public var nc: String?
    public var userhash: Bool

    public init(username: String, realm: String, nonce: String, uri: String, response: String,
                algorithm: DigestAlgorithm = .md5, cnonce: String? = nil, opaque: String? = nil,
                qop: String? = nil, nc: String? = nil, userhash: Bool = false) {
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = algorithm
        self.cnonce = cnonce
        self.opaque = opaque
        self.qop = qop
        self.nc = nc
        self.userhash = userhash
    }

    /// Parses `Digest username="...", realm="...", ...`. username (or RFC 7616
    /// `username*`), realm, nonce, uri and response are required; nc must be
    /// 8 hex digits. Whether qop, cnonce and nc fit together is the verifier's job.
    public static func parse(_ value: String, header: String = "Authorization") throws(SIPParseError) -> DigestCredentials {
        let params = try parseDigestParams(value, header: header)
        var username: String? = nil, realm: String? = nil, nonce: String? = nil
        var uri: String? = nil, response: String? = nil
        var c = DigestCredentials(username: "", realm: "", nonce: "", uri: "", response: "")
        for p in params {
            switch p.name {
            case "username":
                guard username == nil else { throw .header(header, "both username and username*") }
                username = p.value
            case "username*":
                // RFC 7616 §3.4.4: never together with `username`.
                guard username == nil else { throw .header(header, "both username and username*") }
                guard !p.quoted, let u = decodeExtValue(p.value) else { throw .header(header, "invalid username*") }
                username = u
            case "realm": realm = p.value
            case "nonce": nonce = p.value
            case "uri": uri = p.value
            case "response": response = p.value
            case "algorithm":
                guard let a = DigestAlgorithm(token: p.value) else {
                    throw .header(header, "unsupported algorithm \(p.value)")
                }
                c.algorithm = a
            case "cnonce": c.cnonce = p.value
            case "opaque": c.opaque = p.value
            case "qop": c.qop = lowercasedASCII(p.value)
            case "nc":
                let v = Array(p.value.utf8)
                guard v.count == 8, v.allSatisfy({ hasClass($0, CharClass.hex) }) else {
                    throw .header(header, "nc is not 8 hex digits")
                }
                c.nc = p.value
            case "userhash": c.userhash = equalsIgnoringCase(p.value, "true")
            default: continue
            }
        }
        guard let username else { throw .header(header, "missing username") }
        guard let realm else { throw .header(header, "missing realm") }
        guard let nonce else { throw .header(header, "missing nonce") }
        guard let uri else { throw .header(header, "missing uri") }
        guard let response else { throw .header(header, "missing response") }
        c.username = username
        c.realm = realm
        c.nonce = nonce
        c.uri = uri
        c.response = response
        return c
    }

    public var description: String {
        var s = "Digest username=\(quote(username)), realm=\(quote(realm)), nonce=\(quote(nonce))"
        s += ", uri=\(quote(uri)), response=\(quote(response)), algorithm=\(algorithm.rawValue)"
        if let cnonce { s += ", cnonce=\(quote(cnonce))" }
        if let opaque { s += ", opaque=\(quote(opaque))" }
        // qop and nc are tokens in credentials (RFC 7616 §3.4).
        if let qop { s += ", qop=\(qop)" }
        if let nc { s += ", nc=\(nc)" }
        if userhash { s += ", userhash=true" }
        return s
    }
}

// MARK: - auth-param parsing

/// One auth-param: name lowercased, value with quotes and quoted-pairs resolved.
struct DigestParam: Equatable {
    var name: String
    var value: String
    var quoted: Bool
}

/// Parses `"Digest" 1*LWS #auth-param` (RFC 7235 §2.1, RFC 3261 §25.1).
/// Values are quoted-strings or unquoted runs up to the next comma or LWS;
/// the latter is lenient on purpose (some UAs quote `algorithm`, others don't
/// quote `qop`). Empty list elements are skipped; duplicate names are an error
/// (RFC 7235 §2.1: each parameter once) so that two parsers never disagree.
func parseDigestParams(_ value: String, header: String) throws(SIPParseError) -> [DigestParam] {
    func fail(_ r: String) -> SIPParseError { .header(header, r) }
    let b = Array(value.utf8)
    var i = skipLWS(b, 0, b.count)
    let hi = trimTrailingLWS(b, i, b.count)
    let s = i
    while i < hi, isToken(b[i]) { i += 1 }
    guard i > s else { throw fail("missing auth scheme") }
    guard equalsIgnoringCase(text(b, s, i), "Digest") else { throw fail("auth scheme is not Digest") }
    guard i == hi || isLWSByte(b[i]) else { throw fail("malformed auth scheme") }
    var params: [DigestParam] = []
    var seen: Set<String> = []
    while true {
        while i < hi, isLWSByte(b[i]) || b[i] == 44 { i += 1 }
        if i >= hi { break }
        let n = i
        while i < hi, isToken(b[i]) { i += 1 }
        guard i > n else { throw fail("expected a parameter name") }
        let name = lowercasedASCII(b, n, i)
        i = skipLWS(b, i, hi)
        guard i < hi, b[i] == 61 else { throw fail("parameter \(name) has no value") }
        i = skipLWS(b, i + 1, hi)
        guard i < hi else { throw fail("parameter \(name) has no value") }
        let param: DigestParam
        if b[i] == 34 {
            guard let end = scanQuoted(b, i, hi) else { throw fail("unterminated quoted string in \(name)") }
            param = DigestParam(name: name, value: lineBreaksAsSpaces(unquote(b, i, end)), quoted: true)
            i = end
        } else {
            let v = i
            while i < hi, b[i] > 32, b[i] != 127, b[i] != 44, b[i] != 34 { i += 1 }
            guard i > v else { throw fail("invalid value of parameter \(name)") }
            param = DigestParam(name: name, value: text(b, v, i), quoted: false)
        }
        i = skipLWS(b, i, hi)
        guard i == hi || b[i] == 44 else { throw fail("expected a comma after parameter \(name)") }
        guard seen.insert(name).inserted else { throw fail("duplicate parameter \(name)") }
        params.append(param)
    }
    return params
}

/// RFC 8187 ext-value `UTF-8'lang'pct-encoded` (used by `username*`); UTF-8 only.
func decodeExtValue(_ v: String) -> String? {
    let b = Array(v.utf8)
    guard let q1 = b.firstIndex(of: 39), let q2 = b[(q1 + 1)...].firstIndex(of: 39) else { return nil }
    guard equalsIgnoringCase(text(b, 0, q1), "UTF-8") else { return nil }
    let v = percentDecode(b, q2 + 1, b.count)
    guard !v.utf8.contains(where: { $0 == CR || $0 == LF }) else { return nil }
    return v
}

/// A quoted-string can hold CR/LF only as leftover folding (RFC 3261 §7.3.1),
/// which stands for SP; `quote` could not write them back either.
private func lineBreaksAsSpaces(_ s: String) -> String {
    guard s.utf8.contains(where: { $0 == CR || $0 == LF }) else { return s }
    return String(decoding: s.utf8.map { $0 == CR || $0 == LF ? SP : $0 }, as: UTF8.self)
}

private func trimmedLWS(_ s: String) -> String {
    let b = Array(s.utf8)
    let lo = skipLWS(b, 0, b.count)
    return text(b, lo, trimTrailingLWS(b, lo, b.count))
}
