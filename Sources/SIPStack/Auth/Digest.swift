// SIP digest authentication (RFC 3261 §22.4 with RFC 7616 and RFC 8760):
// the hashes, stateless nonces, nonce-count replay defence, the UAS-side
// verifier and the UAC-side client. Pure values, no I/O; the caller passes
// the wall clock (seconds since the epoch) so that tests control time.

import Crypto
import SIPMessages

// MARK: - Hashes

/// The digest computations of RFC 7616 §3.4.1 and §3.4.2 (qop "auth" or none).
public enum DigestMath {
    /// H(s) as lowercase hex, with the algorithm's hash (MD5 or SHA-256).
    public static func hash(_ s: String, _ alg: DigestAlgorithm) -> String {
        switch alg {
        case .md5, .md5Session: return hexLower(Insecure.MD5.hash(data: Array(s.utf8)))
        case .sha256, .sha256Session: return hexLower(SHA256.hash(data: Array(s.utf8)))
        }
    }

    /// H(username:realm:password): what an account may store instead of the
    /// password, one per hash family (RFC 7616 §3.4.2). For `-sess` algorithms
    /// this is still the stored value; `response` derives the session key.
    public static func ha1(username: String, realm: String, password: String, algorithm: DigestAlgorithm) -> String {
        hash("\(username):\(realm):\(password)", algorithm)
    }

    /// The `-sess` session key H(H(username:realm:password):nonce:cnonce)
    /// (RFC 7616 §3.4.2). `response` applies it itself; do not pass its result there.
    public static func sessionHA1(ha1: String, nonce: String, cnonce: String, algorithm: DigestAlgorithm) -> String {
        hash("\(ha1):\(nonce):\(cnonce)", algorithm)
    }

    /// H(username:realm), the hashed username (RFC 7616 §3.4.4).
    public static func userhash(username: String, realm: String, algorithm: DigestAlgorithm) -> String {
        hash("\(username):\(realm)", algorithm)
    }

    /// The request-digest (RFC 7616 §3.4.1). `ha1` is the stored
    /// H(username:realm:password); for `-sess` algorithms the session key is
    /// derived here from nonce and cnonce. HA2 = H(method:uri) (qop "auth").
    /// With qop: H(HA1:nonce:nc:cnonce:qop:HA2); without (RFC 2069): H(HA1:nonce:HA2).
    public static func response(ha1: String, nonce: String, nc: String?, cnonce: String?, qop: String?,
                                method: String, uri: String, algorithm: DigestAlgorithm) -> String {
        let key = algorithm.isSession
            ? sessionHA1(ha1: ha1, nonce: nonce, cnonce: cnonce ?? "", algorithm: algorithm)
            : ha1
        let ha2 = hash("\(method):\(uri)", algorithm)
        if let qop {
            return hash("\(key):\(nonce):\(nc ?? ""):\(cnonce ?? ""):\(qop):\(ha2)", algorithm)
        }
        return hash("\(key):\(nonce):\(ha2)", algorithm)
    }

    /// nc as sent: 8 lowercase hex digits (RFC 7616 §3.4).
    public static func formatNonceCount(_ n: UInt32) -> String {
        let h = String(n, radix: 16)
        return String(repeating: "0", count: 8 - h.utf8.count) + h
    }

    /// Parses exactly 8 hex digits; nil otherwise.
    public static func parseNonceCount(_ s: String) -> UInt32? {
        var n: UInt32 = 0
        var digits = 0
        for c in s.utf8 {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 65...70: v = c - 55
            case 97...102: v = c - 87
            default: return nil
            }
            n = n << 4 | UInt32(v)
            digits += 1
            if digits > 8 { return nil }
        }
        return digits == 8 ? n : nil
    }
}

// MARK: - Stateless nonces

/// What `NonceIssuer.check` found.
public enum NonceStatus: Sendable, Equatable {
    case valid
    /// Ours and intact but older than the lifetime: challenge again with stale=true.
    case stale
    /// Malformed, forged, for another realm, or from the future.
    case invalid
}

/// Issues and checks nonces that need no server state (RFC 7616 §3.3 suggests
/// a time stamp plus a private key). A nonce is base64url (no padding) of
/// 8-byte big-endian seconds || 8 random bytes || first 16 bytes of
/// HMAC-SHA256(secret, those 16 bytes || realm). Nodes sharing the secret
/// accept each other's nonces.
public struct NonceIssuer: Sendable {
    public let lifetime: Duration
    /// Seconds a nonce may come from the future (clock skew between nodes).
    public static let allowedSkew: UInt64 = 5

    private let key: SymmetricKey
    private let lifetimeSeconds: UInt64

    public init(secret: [UInt8], lifetime: Duration) {
        precondition(!secret.isEmpty, "nonce secret must not be empty")
        key = SymmetricKey(data: secret)
        self.lifetime = lifetime
        lifetimeSeconds = UInt64(max(1, lifetime.components.seconds))
    }

    /// A random 32-byte secret: nonces survive neither a restart nor another node.
    public init(lifetime: Duration) {
        var rng = SystemRandomNumberGenerator()
        self.init(secret: (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }, lifetime: lifetime)
    }

    public func issue(realm: String, now: UInt64) -> String {
        var rng = SystemRandomNumberGenerator()
        return issue(realm: realm, now: now, random: rng.next())
    }

    func issue(realm: String, now: UInt64, random: UInt64) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        appendBigEndian(&bytes, now)
        appendBigEndian(&bytes, random)
        bytes.append(contentsOf: mac(bytes, realm: realm))
        return base64URLEncode(bytes)
    }

    public func check(_ nonce: String, realm: String, now: UInt64) -> NonceStatus {
        guard nonce.utf8.count == 43, let bytes = base64URLDecode(nonce), bytes.count == 32,
              base64URLEncode(bytes) == nonce // canonical spelling only
        else { return .invalid }
        let stamp = Array(bytes[0..<16])
        guard constantTimeEqual(mac(stamp, realm: realm), Array(bytes[16..<32])) else { return .invalid }
        var issued: UInt64 = 0
        for b in bytes[0..<8] { issued = issued << 8 | UInt64(b) }
        if issued > now {
            return issued - now > Self.allowedSkew ? .invalid : .valid
        }
        return now - issued > lifetimeSeconds ? .stale : .valid
    }

    private func mac(_ stamp: [UInt8], realm: String) -> [UInt8] {
        var h = HMAC<SHA256>(key: key)
        h.update(data: stamp)
        h.update(data: Array(realm.utf8))
        return Array(Array(h.finalize()).prefix(16))
    }
}

// MARK: - Replay defence

/// The highest nonce-count seen per nonce (RFC 7616 §3.4: a server may reject a
/// repeated nc). Bounded: beyond `capacity` nonces the oldest inserted is
/// forgotten, so keep capacity above the number of nonces used per lifetime.
public struct NonceCountTracker: Sendable {
    public let capacity: Int
    private var highest: [String: UInt32] = [:]
    /// Ring of nonces in insertion order; `next` is the oldest once full.
    private var order: [String] = []
    private var next = 0

    public init(capacity: Int = 100_000) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
    }

    public var count: Int { highest.count }

    /// True and remembered when `nc` is above every nc seen with `nonce`
    /// (the first one must be at least 1).
    public mutating func accept(nonce: String, nc: UInt32) -> Bool {
        if let last = highest[nonce] {
            guard nc > last else { return false }
            highest[nonce] = nc
            return true
        }
        guard nc > 0 else { return false }
        if order.count < capacity {
            order.append(nonce)
        } else {
            highest[order[next]] = nil
            order[next] = nonce
            next = (next + 1) % capacity
        }
        highest[nonce] = nc
        return true
    }

    /// As above with nc as sent (8 hex digits); false when malformed.
    public mutating func accept(nonce: String, nc: String) -> Bool {
        guard let n = DigestMath.parseNonceCount(nc) else { return false }
        return accept(nonce: nonce, nc: n)
    }
}

// MARK: - Server side

/// What an account authenticates with.
public enum AccountSecret: Sendable, CustomStringConvertible, CustomReflectable {
    case password(String)
    /// Stored H(username:realm:password) per hash family, lowercase hex.
    case ha1(md5: String?, sha256: String?)

    /// Never shows the secret (logs).
    public var description: String {
        switch self {
        case .password: return "password(<redacted>)"
        case .ha1: return "ha1(<redacted>)"
        }
    }

    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// Checks Authorization / Proxy-Authorization credentials against one realm
/// (RFC 3261 §22.4, RFC 7616 §3.5) and builds the matching challenges.
/// Callers should answer every `.rejected` the same way on the wire
/// (a fresh 401/407, or 403): the reasons are for logs and metrics.
public struct DigestVerifier: Sendable {
    public enum Reason: Sendable, Equatable {
        case wrongResponse
        case unknownUser
        case realmMismatch
        case uriMismatch
        /// Not offered by this verifier, or no stored HA1 for it.
        case unsupportedAlgorithm
        /// qop other than "auth" (auth-int is not offered).
        case unsupportedQop
        case nonceInvalid
        case replay
        /// cnonce/nc missing with qop, or qop missing where required.
        case missingField
    }

    public enum Outcome: Sendable, Equatable {
        case authenticated
        /// Correct digest for an expired nonce: challenge again with stale=true.
        case stale
        case rejected(Reason)
    }

    public let realm: String
    /// Offered algorithms, most preferred first (RFC 8760 §2.4).
    public var algorithms: [DigestAlgorithm]
    /// Sent in challenges when set. Not checked: the nonce authenticates itself.
    public var opaque: String?
    /// Refuse RFC 2069 style credentials (no qop, hence no nc replay defence).
    /// Off by default for old UAs (RFC 3261 §22.4).
    public var requireQop: Bool
    public private(set) var issuer: NonceIssuer
    public private(set) var nonceCounts: NonceCountTracker

    public init(realm: String, issuer: NonceIssuer, algorithms: [DigestAlgorithm] = [.sha256, .md5],
                opaque: String? = nil, requireQop: Bool = false, nonceCountCapacity: Int = 100_000) {
        self.realm = realm
        self.issuer = issuer
        self.algorithms = algorithms
        self.opaque = opaque
        self.requireQop = requireQop
        self.nonceCounts = NonceCountTracker(capacity: nonceCountCapacity)
    }

    /// One challenge per offered algorithm, in preference order, sharing a fresh nonce.
    public func challenges(stale: Bool, now: UInt64) -> [DigestChallenge] {
        let nonce = issuer.issue(realm: realm, now: now)
        return algorithms.map {
            DigestChallenge(realm: realm, nonce: nonce, opaque: opaque, algorithm: $0, qop: ["auth"], stale: stale)
        }
    }

    /// Verifies `credentials` for a request with `method` and (when given) the
    /// Request-URI as received. `secretFor` is called with the username as sent.
    /// A known and an unknown user cost the same hashing; responses compare in
    /// constant time; nc is recorded only once the digest is proven correct,
    /// so forged requests cannot burn a client's nonce counts.
    public mutating func verify(credentials c: DigestCredentials, method: String, requestURI: String?,
                                secretFor: (String) -> AccountSecret?, now: UInt64) -> Outcome {
        guard c.realm == realm else { return .rejected(.realmMismatch) }
        guard algorithms.contains(c.algorithm) else { return .rejected(.unsupportedAlgorithm) }
        var nonceCount: UInt32? = nil
        if let qop = c.qop {
            guard qop == "auth" else { return .rejected(.unsupportedQop) }
            guard let cnonce = c.cnonce, !cnonce.isEmpty, let nc = c.nc else { return .rejected(.missingField) }
            guard let n = DigestMath.parseNonceCount(nc) else { return .rejected(.missingField) }
            nonceCount = n
        } else if requireQop || c.algorithm.isSession {
            // -sess needs a cnonce, which only comes with qop (RFC 7616 §3.4.2).
            return .rejected(.missingField)
        }
        if let requestURI, !Self.uriMatches(c.uri, requestURI) { return .rejected(.uriMismatch) }
        let nonceStatus = issuer.check(c.nonce, realm: realm, now: now)
        if nonceStatus == .invalid { return .rejected(.nonceInvalid) }

        // From here on, every path hashes HA1 once and the response once.
        var failure: Reason? = nil
        var password = Self.placeholderPassword
        var stored: String? = nil
        switch secretFor(c.username) {
        case .password(let p)?:
            password = p
        case .ha1(let md5, let sha256)?:
            stored = c.algorithm.isSHA256Family ? sha256 : md5
            if stored == nil { failure = .unsupportedAlgorithm }
        case nil:
            failure = .unknownUser
        }
        let computed = DigestMath.ha1(username: c.username, realm: realm, password: password, algorithm: c.algorithm)
        let ha1 = stored.map(lowercasedHex) ?? computed
        let expected = DigestMath.response(ha1: ha1, nonce: c.nonce, nc: c.nc, cnonce: c.cnonce, qop: c.qop,
                                           method: method, uri: c.uri, algorithm: c.algorithm)
        let matches = constantTimeEqual(Array(expected.utf8), Array(lowercasedHex(c.response).utf8))
        if let failure { return .rejected(failure) }
        guard matches else { return .rejected(.wrongResponse) }
        // RFC 7616 §3.3: stale only when the digest itself is right.
        if nonceStatus == .stale { return .stale }
        if let nonceCount, !nonceCounts.accept(nonce: c.nonce, nc: nonceCount) { return .rejected(.replay) }
        return .authenticated
    }

    private static let placeholderPassword = "hotline-placeholder-password"

    /// digest-uri must be the Request-URI (RFC 3261 §22.4 via RFC 2617 §3.2.2.5):
    /// equal as text, or equal SIP URIs once parsed (case of host, escaping).
    static func uriMatches(_ digestURI: String, _ requestURI: String) -> Bool {
        if digestURI == requestURI { return true }
        guard let a = try? SIPURI.parse(digestURI), let b = try? SIPURI.parse(requestURI) else { return false }
        return a == b
    }
}

// MARK: - Client side

/// Answers a trunk's or proxy's 401/407 (RFC 3261 §22.2, §22.3): one
/// instance per account and realm; tracks nc for the current nonce.
public struct DigestClient: Sendable, CustomStringConvertible, CustomReflectable {
    public let username: String
    private let secret: AccountSecret
    /// Algorithms this client will use; others yield nil.
    public var supportedAlgorithms: Set<DigestAlgorithm> = Set(DigestAlgorithm.allCases)

    private var currentNonce: String? = nil
    private var nonceCount: UInt32 = 0
    /// `-sess` keeps one cnonce per nonce, as the session key depends on it.
    private var sessionCnonce: String? = nil

    public init(username: String, password: String) {
        self.username = username
        self.secret = .password(password)
    }

    public init(username: String, secret: AccountSecret) {
        self.username = username
        self.secret = secret
    }

    /// Never shows the secret (logs, `dump`).
    public var description: String { "DigestClient(username: \(username))" }
    public var customMirror: Mirror { Mirror(self, children: ["username": username]) }

    /// Credentials for `method` to `uri` (the Request-URI as it will be sent).
    /// nil when the algorithm is not supported (or no HA1 is stored for it) or
    /// when qop is offered without "auth". nc counts up while the nonce stays
    /// the same and restarts at 1 with a new nonce.
    public mutating func authorization(for challenge: DigestChallenge, method: String, uri: String) -> DigestCredentials? {
        let alg = challenge.algorithm
        guard supportedAlgorithms.contains(alg) else { return nil }
        let qop: String?
        if challenge.qop.isEmpty {
            guard !alg.isSession else { return nil } // -sess needs a cnonce, sent only with qop
            qop = nil
        } else {
            guard challenge.qop.contains("auth") else { return nil }
            qop = "auth"
        }
        let ha1: String
        switch secret {
        case .password(let p):
            ha1 = DigestMath.ha1(username: username, realm: challenge.realm, password: p, algorithm: alg)
        case .ha1(let md5, let sha256):
            guard let h = alg.isSHA256Family ? sha256 : md5 else { return nil }
            ha1 = lowercasedHex(h)
        }

        if challenge.nonce != currentNonce {
            currentNonce = challenge.nonce
            nonceCount = 0
            sessionCnonce = nil
        }
        var cnonce: String? = nil
        var nc: String? = nil
        if qop != nil {
            if nonceCount < .max { nonceCount += 1 }
            nc = DigestMath.formatNonceCount(nonceCount)
            if alg.isSession {
                let c = sessionCnonce ?? Self.makeCnonce()
                sessionCnonce = c
                cnonce = c
            } else {
                cnonce = Self.makeCnonce()
            }
        }
        let response = DigestMath.response(ha1: ha1, nonce: challenge.nonce, nc: nc, cnonce: cnonce, qop: qop,
                                           method: method, uri: uri, algorithm: alg)
        let name = challenge.userhash
            ? DigestMath.userhash(username: username, realm: challenge.realm, algorithm: alg)
            : username
        return DigestCredentials(username: name, realm: challenge.realm, nonce: challenge.nonce, uri: uri,
                                 response: response, algorithm: alg, cnonce: cnonce, opaque: challenge.opaque,
                                 qop: qop, nc: nc, userhash: challenge.userhash)
    }

    /// 128 random bits as hex.
    private static func makeCnonce() -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        appendBigEndian(&bytes, rng.next())
        appendBigEndian(&bytes, rng.next())
        return hexLower(bytes)
    }
}

// MARK: - Helpers

extension DigestAlgorithm {
    /// Which stored HA1 (`AccountSecret.ha1`) this algorithm uses.
    fileprivate var isSHA256Family: Bool { self == .sha256 || self == .sha256Session }
}

private let hexDigitsLower: [UInt8] = Array("0123456789abcdef".utf8)

private func hexLower<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    var out = [UInt8]()
    out.reserveCapacity(64)
    for b in bytes {
        out.append(hexDigitsLower[Int(b >> 4)])
        out.append(hexDigitsLower[Int(b & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// ASCII-lowercases (hex digests may arrive in upper case).
private func lowercasedHex(_ s: String) -> String {
    String(decoding: s.utf8.map { ($0 >= 65 && $0 <= 90) ? $0 | 0x20 : $0 }, as: UTF8.self)
}

/// Time depends only on the length of `a` (the expected value), not on where the
/// inputs differ.
private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var diff: UInt8 = a.count == b.count ? 0 : 1
    for i in 0..<a.count {
        diff |= a[i] ^ (i < b.count ? b[i] : 0)
    }
    return diff == 0
}

private func appendBigEndian(_ bytes: inout [UInt8], _ v: UInt64) {
    for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
}

private let base64URLAlphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

/// RFC 4648 §5 without padding.
private func base64URLEncode(_ bytes: [UInt8]) -> String {
    var out = [UInt8]()
    out.reserveCapacity((bytes.count * 4 + 2) / 3)
    var i = 0
    while i + 3 <= bytes.count {
        let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        for shift in [18, 12, 6, 0] { out.append(base64URLAlphabet[Int(v >> UInt32(shift) & 63)]) }
        i += 3
    }
    let rest = bytes.count - i
    if rest > 0 {
        var v = UInt32(bytes[i]) << 16
        if rest == 2 { v |= UInt32(bytes[i + 1]) << 8 }
        let shifts = rest == 1 ? [18, 12] : [18, 12, 6]
        for shift in shifts { out.append(base64URLAlphabet[Int(v >> UInt32(shift) & 63)]) }
    }
    return String(decoding: out, as: UTF8.self)
}

/// Inverse of `base64URLEncode`; nil on any character outside the alphabet or
/// an impossible length.
private func base64URLDecode(_ s: String) -> [UInt8]? {
    var out = [UInt8]()
    var acc: UInt32 = 0
    var bits = 0
    for c in s.utf8 {
        let v: UInt8
        switch c {
        case 65...90: v = c - 65
        case 97...122: v = c - 71
        case 48...57: v = c + 4
        case 45: v = 62
        case 95: v = 63
        default: return nil
        }
        acc = acc << 6 | UInt32(v)
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
        }
    }
    return bits >= 6 ? nil : out
}
