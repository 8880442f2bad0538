/// One header field. `name` is the canonical long form for known headers
/// ("Via", "Call-ID", ...); unknown names are kept as received. `value` is the
/// unfolded value with surrounding whitespace removed.
public struct SIPHeader: Sendable, Equatable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.init(name: name, value: value)
    }
}

/// Ordered header list; repeated names allowed. Name lookups are
/// case-insensitive and accept compact forms ("v" finds "Via").
public struct SIPHeaders: Sendable, Equatable, Sequence {
    @usableFromInline var storage: [SIPHeader]

    public init() { storage = [] }
    public init(_ list: [SIPHeader]) { storage = list }

    /// All fields in order.
    public var fields: [SIPHeader] { storage }
    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }

    public func makeIterator() -> IndexingIterator<[SIPHeader]> { storage.makeIterator() }

    /// Value of the first occurrence of `name`, unsplit.
    public subscript(_ name: String) -> String? {
        let key = SIPHeaders.canonicalName(name)
        for h in storage where SIPHeaders.matches(h.name, key) { return h.value }
        return nil
    }

    /// Raw values of all occurrences of `name`, one per header line, never split.
    public func rawValues(_ name: String) -> [String] {
        let key = SIPHeaders.canonicalName(name)
        return storage.filter { SIPHeaders.matches($0.name, key) }.map(\.value)
    }

    /// All values of all occurrences. Comma-separated list headers (Via, Route,
    /// Contact, Allow, ...) are split on top-level commas (outside quotes and
    /// `<>`); empty elements are dropped. Other headers are never split.
    public func values(_ name: String) -> [String] {
        let key = SIPHeaders.canonicalName(name)
        let split = SIPHeaders.isListHeader(key)
        var out: [String] = []
        for h in storage where SIPHeaders.matches(h.name, key) {
            if split {
                out.append(contentsOf: splitList(h.value, keepEmpty: false))
            } else {
                out.append(h.value)
            }
        }
        return out
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field (the name is canonicalized).
    public mutating func add(_ name: String, _ value: String) {
        storage.append(SIPHeader(name: SIPHeaders.canonicalName(name), value: value))
    }

    /// Replaces all occurrences of `name` by a single field, at the position of
    /// the first occurrence (or at the end).
    public mutating func set(_ name: String, _ value: String) {
        let key = SIPHeaders.canonicalName(name)
        if let first = storage.firstIndex(where: { SIPHeaders.matches($0.name, key) }) {
            storage[first] = SIPHeader(name: key, value: value)
            var i = storage.count - 1
            while i > first {
                if SIPHeaders.matches(storage[i].name, key) { storage.remove(at: i) }
                i -= 1
            }
        } else {
            storage.append(SIPHeader(name: key, value: value))
        }
    }

    /// Removes all occurrences of `name`.
    public mutating func remove(_ name: String) {
        let key = SIPHeaders.canonicalName(name)
        storage.removeAll { SIPHeaders.matches($0.name, key) }
    }

    /// Inserts a field at the top (e.g. a new Via).
    public mutating func prepend(_ name: String, _ value: String) {
        storage.insert(SIPHeader(name: SIPHeaders.canonicalName(name), value: value), at: 0)
    }

    // MARK: - Names

    /// Canonical long name for known headers and compact forms; other names unchanged.
    public static func canonicalName(_ name: String) -> String {
        if let c = canonicalNames[lowercasedASCII(name)] { return c }
        return name
    }

    static func canonicalName(_ b: [UInt8], _ lo: Int, _ hi: Int) -> String {
        let key = lowercasedASCII(b, lo, hi)
        if let c = canonicalNames[key] { return c }
        return text(b, lo, hi)
    }

    /// `stored` is a name as held in a field; `key` is a canonical query name.
    @inline(__always) static func matches(_ stored: String, _ key: String) -> Bool {
        if stored == key { return true }
        if stored.utf8.count == key.utf8.count { return equalsIgnoringCase(stored, key) }
        if stored.utf8.count == 1 { return canonicalName(stored) == key }
        return false
    }

    static func isListHeader(_ canonical: String) -> Bool {
        listHeaders.contains(lowercasedASCII(canonical))
    }

    private static let canonicalNames: [String: String] = {
        let names = [
            "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Accept-Resource-Priority",
            "Alert-Info", "Allow", "Allow-Events", "Answer-Mode", "Authentication-Info", "Authorization",
            "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding", "Content-Language",
            "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "Flow-Timer",
            "From", "History-Info", "Identity", "Identity-Info", "In-Reply-To", "Join", "Max-Forwards",
            "MIME-Version", "Min-Expires", "Min-SE", "Organization", "P-Access-Network-Info",
            "P-Asserted-Identity", "P-Charging-Vector", "P-Preferred-Identity", "Path", "Priority", "Privacy",
            "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route",
            "Refer-Sub", "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To",
            "Request-Disposition", "Require", "Resource-Priority", "Retry-After", "Route", "RSeq",
            "Security-Client", "Security-Server", "Security-Verify", "Server", "Service-Route",
            "Session-Expires", "SIP-ETag", "SIP-If-Match", "Subject", "Subscription-State", "Supported",
            "Target-Dialog", "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning",
            "WWW-Authenticate",
        ]
        var d: [String: String] = [:]
        for n in names { d[lowercasedASCII(n)] = n }
        let compact: [String: String] = [
            "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
            "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
            "l": "Content-Length", "m": "Contact", "n": "Identity-Info", "o": "Event", "r": "Refer-To",
            "s": "Subject", "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires", "y": "Identity",
        ]
        for (k, v) in compact { d[k] = v }
        return d
    }()

    private static let listHeaders: Set<String> = [
        "accept", "accept-contact", "accept-encoding", "accept-language", "accept-resource-priority",
        "alert-info", "allow", "allow-events", "call-info", "contact", "content-encoding", "content-language",
        "error-info", "history-info", "in-reply-to", "p-asserted-identity", "p-preferred-identity", "path",
        "proxy-require", "reason", "record-route", "reject-contact", "request-disposition", "require",
        "resource-priority", "route", "security-client", "security-server", "security-verify",
        "service-route", "supported", "unsupported", "via", "warning",
    ]
}

/// Splits a header value on commas that are outside quoted strings and `<...>`.
/// Elements are trimmed; empty ones are dropped unless `keepEmpty`.
func splitList(_ value: String, keepEmpty: Bool) -> [String] {
    let b = Array(value.utf8)
    var out: [String] = []
    for r in splitListRanges(b, 0, b.count) {
        let lo = skipLWS(b, r.lowerBound, r.upperBound)
        let hi = trimTrailingLWS(b, lo, r.upperBound)
        if lo == hi && !keepEmpty { continue }
        out.append(String(decoding: b[lo..<hi], as: UTF8.self))
    }
    return out
}

/// Ranges between top-level commas (untrimmed). An unterminated quote or `<`
/// extends to the end (the element parser reports the error).
func splitListRanges(_ b: [UInt8], _ lo: Int, _ hi: Int) -> [Range<Int>] {
    var out: [Range<Int>] = []
    var start = lo
    var i = lo
    var inAngle = false
    while i < hi {
        let c = b[i]
        if c == 34 { // '"'
            i = scanQuoted(b, i, hi) ?? hi
            continue
        }
        if c == 60 { inAngle = true } else if c == 62 { inAngle = false } else if c == 44 && !inAngle {
            out.append(start..<i)
            start = i + 1
        }
        i += 1
    }
    out.append(start..<hi)
    return out
}
