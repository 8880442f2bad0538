import XCTest
import SIPMessages
@testable import SIPStack

final class DigestMathTests: XCTestCase {
    // RFC 7616 §3.9.1.
    let user = "Mufasa", password = "Circle of Life", realm = "http-auth@example.org"
    let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
    let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

    func testHashes() {
        XCTAssertEqual(DigestMath.hash("", .md5), "d41d8cd98f00b204e9800998ecf8427e")
        XCTAssertEqual(DigestMath.hash("abc", .sha256), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(DigestMath.hash("abc", .sha256Session), DigestMath.hash("abc", .sha256))
        XCTAssertEqual(DigestMath.hash("abc", .md5Session), DigestMath.hash("abc", .md5))
    }

    func testRFC7616MD5Vector() {
        let ha1 = DigestMath.ha1(username: user, realm: realm, password: password, algorithm: .md5)
        let r = DigestMath.response(ha1: ha1, nonce: nonce, nc: "00000001", cnonce: cnonce, qop: "auth",
                                    method: "GET", uri: "/dir/index.html", algorithm: .md5)
        XCTAssertEqual(r, "8ca523f5e9506fed4657c9700eebdbec")
    }

    func testRFC7616SHA256Vector() {
        let ha1 = DigestMath.ha1(username: user, realm: realm, password: password, algorithm: .sha256)
        let r = DigestMath.response(ha1: ha1, nonce: nonce, nc: "00000001", cnonce: cnonce, qop: "auth",
                                    method: "GET", uri: "/dir/index.html", algorithm: .sha256)
        XCTAssertEqual(r, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
    }

    func testRFC2617Vector() {
        // RFC 2617 §3.5.
        let ha1 = DigestMath.ha1(username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life", algorithm: .md5)
        let r = DigestMath.response(ha1: ha1, nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", nc: "00000001",
                                    cnonce: "0a4f113b", qop: "auth", method: "GET", uri: "/dir/index.html", algorithm: .md5)
        XCTAssertEqual(r, "6629fae49393a05397450978507c4ef1")
    }

    func testWithoutQopAndSessionFormulas() {
        let ha1 = DigestMath.ha1(username: "bob", realm: "biloxi.com", password: "zanzibar", algorithm: .md5)
        XCTAssertEqual(ha1, DigestMath.hash("bob:biloxi.com:zanzibar", .md5))
        let ha2 = DigestMath.hash("REGISTER:sip:biloxi.com", .md5)
        // RFC 2069 style: H(HA1:nonce:HA2).
        XCTAssertEqual(DigestMath.response(ha1: ha1, nonce: "n", nc: nil, cnonce: nil, qop: nil,
                                           method: "REGISTER", uri: "sip:biloxi.com", algorithm: .md5),
                       DigestMath.hash("\(ha1):n:\(ha2)", .md5))
        // -sess: HA1 = H(H(user:realm:pass):nonce:cnonce), RFC 7616 §3.4.2.
        let base = DigestMath.ha1(username: "bob", realm: "biloxi.com", password: "zanzibar", algorithm: .sha256Session)
        let session = DigestMath.sessionHA1(ha1: base, nonce: "n", cnonce: "c", algorithm: .sha256Session)
        XCTAssertEqual(session, DigestMath.hash("\(base):n:c", .sha256))
        let sha2 = DigestMath.hash("REGISTER:sip:biloxi.com", .sha256)
        XCTAssertEqual(DigestMath.response(ha1: base, nonce: "n", nc: "00000001", cnonce: "c", qop: "auth",
                                           method: "REGISTER", uri: "sip:biloxi.com", algorithm: .sha256Session),
                       DigestMath.hash("\(session):n:00000001:c:auth:\(sha2)", .sha256))
    }

    func testNonceCountFormatting() {
        XCTAssertEqual(DigestMath.formatNonceCount(1), "00000001")
        XCTAssertEqual(DigestMath.formatNonceCount(0xABCDEF), "00abcdef")
        XCTAssertEqual(DigestMath.formatNonceCount(.max), "ffffffff")
        XCTAssertEqual(DigestMath.parseNonceCount("0000000A"), 10)
        XCTAssertNil(DigestMath.parseNonceCount("1"))
        XCTAssertNil(DigestMath.parseNonceCount("+0000001"))
        XCTAssertNil(DigestMath.parseNonceCount("0000000g"))
    }
}

final class NonceTests: XCTestCase {
    let secret = Array("0123456789abcdef0123456789abcdef".utf8)
    let t0: UInt64 = 1_750_000_000

    func testIssuedNonceIsValid() {
        let issuer = NonceIssuer(secret: secret, lifetime: .seconds(300))
        let n = issuer.issue(realm: "hotline", now: t0)
        XCTAssertEqual(n.utf8.count, 43)
        XCTAssertTrue(n.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 })
        XCTAssertEqual(issuer.check(n, realm: "hotline", now: t0), .valid)
        XCTAssertEqual(issuer.check(n, realm: "hotline", now: t0 + 300), .valid)
        XCTAssertNotEqual(n, issuer.issue(realm: "hotline", now: t0), "random part")
    }

    func testNonceStaleAfterLifetime() {
        let issuer = NonceIssuer(secret: secret, lifetime: .seconds(300))
        let n = issuer.issue(realm: "hotline", now: t0)
        XCTAssertEqual(issuer.check(n, realm: "hotline", now: t0 + 301), .stale)
        XCTAssertEqual(issuer.check(n, realm: "hotline", now: t0 + 86_400), .stale)
    }

    func testNonceFromTheFuture() {
        let issuer = NonceIssuer(secret: secret, lifetime: .seconds(300))
        let n = issuer.issue(realm: "hotline", now: t0)
        XCTAssertEqual(issuer.check(n, realm: "hotline", now: t0 - 3), .valid, "small clock skew")
        XCTAssertEqual(issuer.check(n, realm: "hotline", now: t0 - 60), .invalid)
    }

    func testForgedNonces() {
        let issuer = NonceIssuer(secret: secret, lifetime: .seconds(300))
        let n = issuer.issue(realm: "hotline", now: t0)
        XCTAssertEqual(issuer.check(n, realm: "other", now: t0), .invalid, "bound to the realm")
        let other = NonceIssuer(secret: Array("another secret".utf8), lifetime: .seconds(300))
        XCTAssertEqual(other.check(n, realm: "hotline", now: t0), .invalid, "other secret")
        XCTAssertEqual(other.check(other.issue(realm: "hotline", now: t0), realm: "hotline", now: t0), .valid)
        // Every single-character change is caught.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var chars = Array(n)
        for i in 0..<chars.count {
            let original = chars[i]
            let replacement = alphabet[(alphabet.firstIndex(of: original)! + 17) % 64]
            chars[i] = replacement
            XCTAssertEqual(issuer.check(String(chars), realm: "hotline", now: t0), .invalid, "position \(i)")
            chars[i] = original
        }
        // Non-canonical spelling of the same bytes (last character's 2 unused bits).
        let last = alphabet.firstIndex(of: chars[42])!
        chars[42] = alphabet[last ^ 1]
        XCTAssertEqual(issuer.check(String(chars), realm: "hotline", now: t0), .invalid)
        for junk in ["", "abc", String(n.dropLast()), n + "A", String(n.map { $0 == "-" ? "+" : $0 }), String(repeating: "A", count: 43), "!" + String(n.dropFirst())] where junk != n {
            XCTAssertEqual(issuer.check(junk, realm: "hotline", now: t0), .invalid, junk)
        }
    }

    func testSharedSecretAcrossNodes() {
        let a = NonceIssuer(secret: secret, lifetime: .seconds(60))
        let b = NonceIssuer(secret: secret, lifetime: .seconds(60))
        XCTAssertEqual(b.check(a.issue(realm: "r", now: t0), realm: "r", now: t0 + 1), .valid)
        let random = NonceIssuer(lifetime: .seconds(60))
        XCTAssertEqual(random.check(random.issue(realm: "r", now: t0), realm: "r", now: t0), .valid)
        XCTAssertEqual(a.check(random.issue(realm: "r", now: t0), realm: "r", now: t0), .invalid)
    }

    func testNonceCountTracker() {
        var t = NonceCountTracker()
        XCTAssertFalse(t.accept(nonce: "a", nc: 0), "nc starts at 1")
        XCTAssertTrue(t.accept(nonce: "a", nc: 1))
        XCTAssertFalse(t.accept(nonce: "a", nc: 1), "replay")
        XCTAssertTrue(t.accept(nonce: "a", nc: 2))
        XCTAssertTrue(t.accept(nonce: "a", nc: 7), "gaps are fine")
        XCTAssertFalse(t.accept(nonce: "a", nc: 3), "older count")
        XCTAssertTrue(t.accept(nonce: "b", nc: 1), "per nonce")
        XCTAssertTrue(t.accept(nonce: "b", nc: "00000002"))
        XCTAssertFalse(t.accept(nonce: "b", nc: "00000002"))
        XCTAssertFalse(t.accept(nonce: "b", nc: "3"))
        XCTAssertEqual(t.count, 2)
    }

    func testNonceCountTrackerIsBounded() {
        var t = NonceCountTracker(capacity: 3)
        for n in ["a", "b", "c"] { XCTAssertTrue(t.accept(nonce: n, nc: 5)) }
        XCTAssertTrue(t.accept(nonce: "d", nc: 1)) // evicts "a", the oldest
        XCTAssertEqual(t.count, 3)
        XCTAssertFalse(t.accept(nonce: "b", nc: 5), "b still remembered")
        XCTAssertTrue(t.accept(nonce: "a", nc: 1), "a was forgotten")
        XCTAssertEqual(t.count, 3)
        XCTAssertTrue(t.accept(nonce: "b", nc: 1), "b evicted next, by insertion order")
        XCTAssertFalse(t.accept(nonce: "d", nc: 1))
        var big = NonceCountTracker(capacity: 1000)
        for i in 0..<5000 { XCTAssertTrue(big.accept(nonce: "n\(i)", nc: 1)) }
        XCTAssertEqual(big.count, 1000)
        XCTAssertFalse(big.accept(nonce: "n4999", nc: 1))
        XCTAssertTrue(big.accept(nonce: "n3999", nc: 1))
    }
}

final class DigestVerifierTests: XCTestCase {
    let t0: UInt64 = 1_750_000_000
    let requestURI = "sip:hotline.example.com"

    func makeVerifier(algorithms: [DigestAlgorithm] = [.sha256, .md5]) -> DigestVerifier {
        DigestVerifier(realm: "hotline", issuer: NonceIssuer(secret: Array("test secret".utf8), lifetime: .seconds(300)),
                       algorithms: algorithms, opaque: "op")
    }

    func accounts(_ name: String) -> AccountSecret? {
        switch name {
        case "1001": return .password("s3cret")
        case "1002":
            return .ha1(md5: DigestMath.ha1(username: "1002", realm: "hotline", password: "pw2", algorithm: .md5).uppercased(),
                        sha256: DigestMath.ha1(username: "1002", realm: "hotline", password: "pw2", algorithm: .sha256))
        case "1003":
            return .ha1(md5: nil, sha256: DigestMath.ha1(username: "1003", realm: "hotline", password: "pw3", algorithm: .sha256))
        default: return nil
        }
    }

    func challenge(_ v: DigestVerifier, _ alg: DigestAlgorithm, now: UInt64? = nil) -> DigestChallenge {
        v.challenges(stale: false, now: now ?? t0).first { $0.algorithm == alg } ?? DigestChallenge(realm: v.realm, nonce: "", algorithm: alg)
    }

    func verify(_ v: inout DigestVerifier, _ c: DigestCredentials?, method: String = "REGISTER", uri: String? = nil, now: UInt64? = nil) -> DigestVerifier.Outcome? {
        guard let c else {
            XCTFail("no credentials")
            return nil
        }
        return v.verify(credentials: c, method: method, requestURI: uri ?? requestURI, secretFor: accounts, now: now ?? t0)
    }

    func testChallenges() throws {
        let v = makeVerifier()
        let cs = v.challenges(stale: false, now: t0)
        XCTAssertEqual(cs.map(\.algorithm), [.sha256, .md5])
        for c in cs {
            XCTAssertEqual(c.realm, "hotline")
            XCTAssertEqual(c.qop, ["auth"])
            XCTAssertEqual(c.opaque, "op")
            XCTAssertFalse(c.stale)
            XCTAssertEqual(v.issuer.check(c.nonce, realm: "hotline", now: t0), .valid)
            XCTAssertEqual(try DigestChallenge.parse(c.description, header: "WWW-Authenticate"), c)
        }
        XCTAssertTrue(cs[0].description.hasPrefix(#"Digest realm="hotline", nonce=""#))
        XCTAssertTrue(cs[0].description.hasSuffix(#", opaque="op", algorithm=SHA-256, qop="auth""#))
        XCTAssertTrue(v.challenges(stale: true, now: t0).allSatisfy(\.stale))
    }

    func testClientAndVerifierRoundTripAllAlgorithms() {
        var v = makeVerifier(algorithms: DigestAlgorithm.allCases)
        for alg in DigestAlgorithm.allCases {
            for user in ["1001", "1002"] {
                var client = DigestClient(username: user, password: user == "1001" ? "s3cret" : "pw2")
                let creds = client.authorization(for: challenge(v, alg), method: "REGISTER", uri: requestURI)
                XCTAssertEqual(creds?.algorithm, alg)
                XCTAssertEqual(creds?.response.utf8.count, alg.strength == 2 ? 64 : 32)
                XCTAssertEqual(verify(&v, creds), .authenticated, "\(alg) \(user)")
            }
        }
    }

    func testRoundTripThroughHeaderText() throws {
        var v = makeVerifier()
        let headers = v.challenges(stale: false, now: t0).map(\.description)
        let chosen = try XCTUnwrap(DigestChallenge.preferred(among: headers))
        XCTAssertEqual(chosen.algorithm, .sha256)
        var client = DigestClient(username: "1001", password: "s3cret")
        let creds = try XCTUnwrap(client.authorization(for: chosen, method: "INVITE", uri: "sip:2000@hotline.example.com"))
        XCTAssertEqual(creds.opaque, "op")
        let parsed = try DigestCredentials.parse(creds.description, header: "Authorization")
        XCTAssertEqual(parsed, creds)
        XCTAssertEqual(verify(&v, parsed, method: "INVITE", uri: "sip:2000@hotline.example.com"), .authenticated)
        // A SHA-256-only client still finds the MD5-less list fine; an MD5-only client falls back.
        XCTAssertEqual(DigestChallenge.preferred(among: headers, supported: [.md5])?.algorithm, .md5)
    }

    func testWrongPasswordRejected() {
        var v = makeVerifier()
        for alg in [DigestAlgorithm.sha256, .md5] {
            var client = DigestClient(username: "1001", password: "guess")
            XCTAssertEqual(verify(&v, client.authorization(for: challenge(v, alg), method: "REGISTER", uri: requestURI)),
                           .rejected(.wrongResponse))
        }
        var stored = DigestClient(username: "1002", password: "wrong")
        XCTAssertEqual(verify(&v, stored.authorization(for: challenge(v, .md5), method: "REGISTER", uri: requestURI)),
                       .rejected(.wrongResponse))
    }

    func testUnknownUserRejected() {
        var v = makeVerifier()
        var seen: [String] = []
        var client = DigestClient(username: "9999", password: "s3cret")
        let creds = client.authorization(for: challenge(v, .sha256), method: "REGISTER", uri: requestURI)
        let outcome = v.verify(credentials: creds!, method: "REGISTER", requestURI: requestURI,
                               secretFor: { seen.append($0); return self.accounts($0) }, now: t0)
        XCTAssertEqual(outcome, .rejected(.unknownUser))
        XCTAssertEqual(seen, ["9999"])
    }

    func testReplayedNonceCountRejected() {
        var v = makeVerifier()
        var client = DigestClient(username: "1001", password: "s3cret")
        let ch = challenge(v, .sha256)
        let first = client.authorization(for: ch, method: "REGISTER", uri: requestURI)
        XCTAssertEqual(verify(&v, first), .authenticated)
        XCTAssertEqual(verify(&v, first), .rejected(.replay))
        let second = client.authorization(for: ch, method: "REGISTER", uri: requestURI)
        XCTAssertEqual(second?.nc, "00000002")
        XCTAssertEqual(verify(&v, second), .authenticated)
        XCTAssertEqual(verify(&v, first), .rejected(.replay))
    }

    func testForgedRequestsDoNotBurnNonceCounts() {
        var v = makeVerifier()
        let ch = challenge(v, .md5)
        var attacker = DigestClient(username: "1001", password: "nope")
        var forged = attacker.authorization(for: ch, method: "REGISTER", uri: requestURI)
        forged?.nc = "7fffffff"
        XCTAssertEqual(verify(&v, forged), .rejected(.wrongResponse))
        var client = DigestClient(username: "1001", password: "s3cret")
        XCTAssertEqual(verify(&v, client.authorization(for: ch, method: "REGISTER", uri: requestURI)), .authenticated)
    }

    func testStaleNonce() {
        var v = makeVerifier()
        let ch = challenge(v, .sha256)
        var client = DigestClient(username: "1001", password: "s3cret")
        let creds = client.authorization(for: ch, method: "REGISTER", uri: requestURI)
        XCTAssertEqual(verify(&v, creds, now: t0 + 301), .stale)
        var wrong = DigestClient(username: "1001", password: "bad")
        XCTAssertEqual(verify(&v, wrong.authorization(for: ch, method: "REGISTER", uri: requestURI), now: t0 + 301),
                       .rejected(.wrongResponse), "stale only for a correct digest (RFC 7616 §3.3)")
        // Next attempt with the fresh, stale=true challenge works.
        let fresh = v.challenges(stale: true, now: t0 + 301)[0]
        XCTAssertTrue(fresh.stale)
        XCTAssertEqual(verify(&v, client.authorization(for: fresh, method: "REGISTER", uri: requestURI), now: t0 + 302),
                       .authenticated)
    }

    func testForgedNonceRejected() {
        var v = makeVerifier()
        let foreign = NonceIssuer(secret: Array("attacker".utf8), lifetime: .seconds(300))
        for nonce in [foreign.issue(realm: "hotline", now: t0), "abc", ""] {
            var client = DigestClient(username: "1001", password: "s3cret")
            let ch = DigestChallenge(realm: "hotline", nonce: nonce, algorithm: .sha256)
            XCTAssertEqual(verify(&v, client.authorization(for: ch, method: "REGISTER", uri: requestURI)),
                           .rejected(.nonceInvalid))
        }
        // A genuine nonce issued for another realm by the same secret.
        var other = DigestVerifier(realm: "other", issuer: v.issuer)
        var client = DigestClient(username: "1001", password: "s3cret")
        var creds = client.authorization(for: other.challenges(stale: false, now: t0)[0], method: "REGISTER", uri: requestURI)
        XCTAssertEqual(verify(&other, creds), .authenticated, "sanity: fine in its own realm")
        creds?.realm = "hotline"
        XCTAssertEqual(verify(&v, creds), .rejected(.nonceInvalid))
    }

    func testRealmAndURIMismatch() {
        var v = makeVerifier()
        var client = DigestClient(username: "1001", password: "s3cret")
        var ch = challenge(v, .sha256)
        ch.realm = "evil"
        XCTAssertEqual(verify(&v, client.authorization(for: ch, method: "REGISTER", uri: requestURI)),
                       .rejected(.realmMismatch))
        let good = challenge(v, .sha256)
        XCTAssertEqual(verify(&v, client.authorization(for: good, method: "INVITE", uri: "sip:1@x.example"),
                              method: "INVITE", uri: "sip:2@x.example"),
                       .rejected(.uriMismatch))
        // Equivalent SIP URIs (RFC 3261 §19.1.4) match.
        XCTAssertEqual(verify(&v, client.authorization(for: good, method: "INVITE", uri: "sip:2000@HOTLINE.example.com"),
                              method: "INVITE", uri: "sip:2000@hotline.example.com"),
                       .authenticated)
        // Method is covered by the digest.
        XCTAssertEqual(verify(&v, client.authorization(for: good, method: "INVITE", uri: requestURI), method: "BYE"),
                       .rejected(.wrongResponse))
    }

    func testUnsupportedAlgorithm() {
        var v = makeVerifier(algorithms: [.sha256])
        var client = DigestClient(username: "1001", password: "s3cret")
        let md5 = DigestChallenge(realm: "hotline", nonce: v.challenges(stale: false, now: t0)[0].nonce, algorithm: .md5)
        XCTAssertEqual(verify(&v, client.authorization(for: md5, method: "REGISTER", uri: requestURI)),
                       .rejected(.unsupportedAlgorithm))
        // Account stores only the SHA-256 HA1.
        var all = makeVerifier()
        var c3 = DigestClient(username: "1003", password: "pw3")
        XCTAssertEqual(verify(&all, c3.authorization(for: challenge(all, .md5), method: "REGISTER", uri: requestURI)),
                       .rejected(.unsupportedAlgorithm))
        XCTAssertEqual(verify(&all, c3.authorization(for: challenge(all, .sha256), method: "REGISTER", uri: requestURI)),
                       .authenticated)
    }

    func testQopHandling() throws {
        var v = makeVerifier()
        var client = DigestClient(username: "1001", password: "s3cret")
        let ch = challenge(v, .md5)
        var creds = try XCTUnwrap(client.authorization(for: ch, method: "REGISTER", uri: requestURI))
        var noNC = creds
        noNC.nc = nil
        XCTAssertEqual(verify(&v, noNC), .rejected(.missingField))
        var noCnonce = creds
        noCnonce.cnonce = nil
        XCTAssertEqual(verify(&v, noCnonce), .rejected(.missingField))
        var authInt = creds
        authInt.qop = "auth-int"
        XCTAssertEqual(verify(&v, authInt), .rejected(.unsupportedQop))
        // Upper-case hex from the client is accepted.
        creds.response = creds.response.uppercased()
        XCTAssertEqual(verify(&v, creds), .authenticated)
    }

    func testRFC2069StyleCredentials() throws {
        var v = makeVerifier()
        var legacy = challenge(v, .md5)
        legacy.qop = []
        var client = DigestClient(username: "1001", password: "s3cret")
        let creds = try XCTUnwrap(client.authorization(for: legacy, method: "REGISTER", uri: requestURI))
        XCTAssertNil(creds.qop)
        XCTAssertNil(creds.nc)
        XCTAssertNil(creds.cnonce)
        XCTAssertEqual(verify(&v, creds), .authenticated)
        v.requireQop = true
        XCTAssertEqual(verify(&v, creds), .rejected(.missingField))
    }

    func testClientNonceCounting() throws {
        let v = makeVerifier()
        var client = DigestClient(username: "1001", password: "s3cret")
        let a = challenge(v, .sha256)
        let b = challenge(v, .sha256)
        XCTAssertNotEqual(a.nonce, b.nonce)
        let a1 = try XCTUnwrap(client.authorization(for: a, method: "REGISTER", uri: requestURI))
        let a2 = try XCTUnwrap(client.authorization(for: a, method: "REGISTER", uri: requestURI))
        XCTAssertEqual(a1.nc, "00000001")
        XCTAssertEqual(a2.nc, "00000002")
        XCTAssertNotEqual(a1.cnonce, a2.cnonce)
        XCTAssertEqual(a1.cnonce?.utf8.count, 32)
        XCTAssertEqual(a1.qop, "auth")
        let b1 = try XCTUnwrap(client.authorization(for: b, method: "REGISTER", uri: requestURI))
        XCTAssertEqual(b1.nc, "00000001", "new nonce restarts the count")
        // -sess keeps the cnonce for the nonce (the session key depends on it).
        let s = challenge(makeVerifier(algorithms: [.sha256Session]), .sha256Session)
        let s1 = try XCTUnwrap(client.authorization(for: s, method: "REGISTER", uri: requestURI))
        let s2 = try XCTUnwrap(client.authorization(for: s, method: "REGISTER", uri: requestURI))
        XCTAssertEqual(s1.cnonce, s2.cnonce)
        XCTAssertEqual(s2.nc, "00000002")
    }

    func testClientDeclines() {
        let v = makeVerifier()
        var client = DigestClient(username: "1001", password: "s3cret")
        client.supportedAlgorithms = [.sha256]
        XCTAssertNil(client.authorization(for: challenge(v, .md5), method: "REGISTER", uri: requestURI))
        XCTAssertNotNil(client.authorization(for: challenge(v, .sha256), method: "REGISTER", uri: requestURI))
        var authIntOnly = challenge(v, .sha256)
        authIntOnly.qop = ["auth-int"]
        XCTAssertNil(client.authorization(for: authIntOnly, method: "REGISTER", uri: requestURI))
        var sessNoQop = DigestChallenge(realm: "hotline", nonce: "n", algorithm: .sha256Session, qop: [])
        client.supportedAlgorithms = Set(DigestAlgorithm.allCases)
        XCTAssertNil(client.authorization(for: sessNoQop, method: "REGISTER", uri: requestURI))
        sessNoQop.qop = ["auth-int", "auth"]
        XCTAssertEqual(client.authorization(for: sessNoQop, method: "REGISTER", uri: requestURI)?.qop, "auth")
        var ha1Only = DigestClient(username: "1003", secret: .ha1(md5: nil, sha256: "00"))
        XCTAssertNil(ha1Only.authorization(for: challenge(v, .md5), method: "REGISTER", uri: requestURI))
    }

    func testClientWithStoredHA1AndUserhash() throws {
        var v = makeVerifier()
        let stored = DigestMath.ha1(username: "1001", realm: "hotline", password: "s3cret", algorithm: .sha256)
        var client = DigestClient(username: "1001", secret: .ha1(md5: nil, sha256: stored))
        XCTAssertEqual(verify(&v, client.authorization(for: challenge(v, .sha256), method: "REGISTER", uri: requestURI)),
                       .authenticated)
        var ch = challenge(v, .sha256)
        ch.userhash = true
        let creds = try XCTUnwrap(client.authorization(for: ch, method: "REGISTER", uri: requestURI))
        XCTAssertTrue(creds.userhash)
        XCTAssertEqual(creds.username, DigestMath.hash("1001:hotline", .sha256))
    }

    func testSecretsAreNotPrinted() {
        let client = DigestClient(username: "1001", password: "hunter2")
        XCTAssertFalse("\(client)".contains("hunter2"))
        XCTAssertFalse("\(AccountSecret.password("hunter2"))".contains("hunter2"))
        XCTAssertFalse("\(AccountSecret.ha1(md5: "abcdef", sha256: nil))".contains("abcdef"))
        var dumped = ""
        dump(client, to: &dumped)
        XCTAssertFalse(dumped.contains("hunter2"))
    }
}
