/// A From / To / Contact / Route / Record-Route value: `[display-name] <uri> *(;param)`
/// or the addr-spec form `uri *(;param)` (RFC 3261 §20.10, §25.1).
public struct NameAddress: Sendable, Hashable, CustomStringConvertible {
    /// Display name without quotes (quoted-pairs resolved) or the token form as written.
    public var displayName: String?
    public var uri: SIPURI
    /// Header parameters (after the URI): names lowercased; values as written
    /// (a quoted-string value keeps its quotes).
    public var parameters: [URIParameter]

    public init(displayName: String? = nil, uri: SIPURI, parameters: [URIParameter] = []) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    public var tag: String? {
        get { parameter("tag") ?? nil }
        set { setParameter("tag", newValue, removeIfNil: true) }
    }

    /// `nil`: absent; `.some(nil)`: present without value.
    public func parameter(_ name: String) -> String?? {
        for p in parameters where equalsIgnoringCase(p.name, name) { return .some(p.value) }
        return nil
    }

    mutating func setParameter(_ name: String, _ value: String?, removeIfNil: Bool) {
        let n = lowercasedASCII(name)
        if value == nil && removeIfNil {
            parameters.removeAll { $0.name == n }
        } else if let i = parameters.firstIndex(where: { $0.name == n }) {
            parameters[i].value = value
        } else {
            parameters.append(URIParameter(name: n, value: value))
        }
    }

    public static func parse(_ text: String) throws(SIPParseError) -> NameAddress {
        let b = Array(text.utf8)
        return try parse(b, 0, b.count, header: nil)
    }

    /// Always the name-addr form: `"Display" <uri>;params`.
    public var description: String {
        var s = ""
        if let displayName {
            s += quote(displayName)
            s += " "
        }
        s += "<"
        s += uri.description
        s += ">"
        s += serializeParameters(parameters)
        return s
    }

    static func parse(_ b: [UInt8], _ lo: Int, _ hi0: Int, header: String?) throws(SIPParseError) -> NameAddress {
        func fail(_ r: String) -> SIPParseError { SIPParseError(kind: .header, header: header, reason: r) }
        var i = skipLWS(b, lo, hi0)
        let hi = trimTrailingLWS(b, i, hi0)
        guard i < hi else { throw fail("empty value") }
        var display: String? = nil
        var angle = false
        if b[i] == 34 {
            guard let end = scanQuoted(b, i, hi) else { throw fail("unterminated quoted string") }
            display = unquote(b, i, end)
            i = skipLWS(b, end, hi)
            guard i < hi, b[i] == 60 else { throw fail("expected '<' after display name") }
            angle = true
        } else if b[i] == 60 {
            angle = true
        } else {
            // Either token display-name (tokens separated by LWS) followed by "<",
            // or an addr-spec ("scheme:...").
            var j = i
            var sawLWS = false
            while j < hi {
                let c = b[j]
                if isToken(c) { j += 1 } else if isLWSByte(c) { sawLWS = true; j += 1 } else { break }
            }
            guard j < hi else { throw fail("missing URI") }
            if b[j] == 60 {
                let end = trimTrailingLWS(b, i, j)
                guard end > i else { throw fail("empty display name") }
                display = text(b, i, end)
                i = j
                angle = true
            } else if b[j] == 58 && !sawLWS {
                angle = false
            } else {
                throw fail("invalid character in display name")
            }
        }
        var uriEnd: Int
        let uri: SIPURI
        if angle {
            let u = i + 1
            var j = u
            while j < hi, b[j] != 62 { j += 1 }
            guard j < hi else { throw fail("missing '>'") }
            do throws(SIPParseError) {
                uri = try SIPURI.parse(b, u, j)
            } catch {
                throw fail("bad URI: \(error.reason)")
            }
            uriEnd = j + 1
        } else {
            // addr-spec: the URI ends at ";" or whitespace; "?" and "," are not allowed.
            var j = i
            while j < hi, b[j] != 59, !isLWSByte(b[j]) {
                if b[j] == 63 || b[j] == 44 {
                    throw fail("URI with '?' or ',' must be enclosed in <>")
                }
                j += 1
            }
            do throws(SIPParseError) {
                uri = try SIPURI.parse(b, i, j)
            } catch {
                throw fail("bad URI: \(error.reason)")
            }
            uriEnd = j
        }
        let params = try parseGenericParams(b, uriEnd, hi, header: header)
        return NameAddress(displayName: display, uri: uri, parameters: params)
    }
}

/// Parses `*( SEMI generic-param )` in `b[lo..<hi]` (LWS allowed around ";" and "=").
/// Values are tokens, hosts (incl. IPv6) or quoted-strings (kept with quotes).
func parseGenericParams(_ b: [UInt8], _ lo: Int, _ hi: Int, header: String?) throws(SIPParseError) -> [URIParameter] {
    func fail(_ r: String) -> SIPParseError { SIPParseError(kind: .header, header: header, reason: r) }
    var params: [URIParameter] = []
    var i = skipLWS(b, lo, hi)
    while i < hi {
        guard b[i] == 59 else { throw fail("unexpected character after value") }
        i = skipLWS(b, i + 1, hi)
        let n = i
        while i < hi, isToken(b[i]) { i += 1 }
        guard i > n else { throw fail("empty parameter") }
        let name = lowercasedASCII(b, n, i)
        i = skipLWS(b, i, hi)
        var value: String? = nil
        if i < hi, b[i] == 61 {
            i = skipLWS(b, i + 1, hi)
            guard i < hi else { throw fail("missing value of parameter \(name)") }
            if b[i] == 34 {
                guard let end = scanQuoted(b, i, hi) else { throw fail("unterminated quoted string") }
                value = text(b, i, end)
                i = end
            } else {
                let v = i
                while i < hi, isToken(b[i]) || b[i] == 58 || b[i] == 91 || b[i] == 93 { i += 1 }
                guard i > v else { throw fail("invalid value of parameter \(name)") }
                value = text(b, v, i)
            }
            i = skipLWS(b, i, hi)
        }
        params.append(URIParameter(name: name, value: value))
    }
    return params
}

func serializeParameters(_ params: [URIParameter]) -> String {
    var s = ""
    for p in params {
        s += ";"
        s += p.name
        if let v = p.value {
            s += "="
            s += v
        }
    }
    return s
}
