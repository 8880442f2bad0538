import XCTest
@testable import SIPMessages

final class DigestHeadersTests: XCTestCase {
    // MARK: - Algorithm

    func testAlgorithmTokensAreCaseInsensitive() {
        XCTAssertEqual(DigestAlgorithm(token: "md5"), .md5)
        XCTAssertEqual(DigestAlgorithm(token: "MD5-SESS"), .md5Session)
        XCTAssertEqual(DigestAlgorithm(token: "sha-256"), .sha256)
        XCTAssertEqual(DigestAlgorithm(token: "Sha-256-Sess"), .sha256Session)
        XCTAssertNil(DigestAlgorithm(token: "SHA-512-256"))
        XCTAssertNil(DigestAlgorithm(token: ""))
        XCTAssertTrue(DigestAlgorithm.sha256Session.isSession)
        XCTAssertFalse(DigestAlgorithm.md5.isSession)
        XCTAssertGreaterThan(DigestAlgorithm.sha256.strength, DigestAlgorithm.md5Session.strength)
    }

    // MARK: - Challenges

    func testParseChallenge() throws {
        let c = try DigestChallenge.parse(#"Digest realm="hotline", nonce="abc123", algorithm=SHA-256, qop="auth""#)
        XCTAssertEqual(c.realm, "hotline")
        XCTAssertEqual(c.nonce, "abc123")
        XCTAssertEqual(c.algorithm, .sha256)
        XCTAssertEqual(c.qop, ["auth"])
        XCTAssertFalse(c.stale)
        XCTAssertNil(c.opaque)
        XCTAssertNil(c.domain)
        XCTAssertFalse(c.userhash)
    }

    func testChallengeDefaultsToMD5WithoutQop() throws {
        // RFC 2069 style (RFC 3261 §22.4 backwards compatibility).
        let c = try DigestChallenge.parse(#"Digest realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#)
        XCTAssertEqual(c.algorithm, .md5)
        XCTAssertEqual(c.qop, [])
        XCTAssertEqual(c.description, #"Digest realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", algorithm=MD5"#)
    }

    func testChallengeCaseInsensitiveNamesAndUnknownParams() throws {
        let c = try DigestChallenge.parse(#"DIGEST REALM="x",NONCE="y",Algorithm=md5-sess,charset=UTF-8, foo="bar,baz", Stale=TRUE"#)
        XCTAssertEqual(c.realm, "x")
        XCTAssertEqual(c.nonce, "y")
        XCTAssertEqual(c.algorithm, .md5Session)
        XCTAssertTrue(c.stale)
    }

    func testChallengeQopList() throws {
        let c = try DigestChallenge.parse(#"Digest realm="r", nonce="n", qop=" Auth , auth-int ""#)
        XCTAssertEqual(c.qop, ["auth", "auth-int"])
        let d = try DigestChallenge.parse(#"Digest realm="r", nonce="n", qop=auth"#)
        XCTAssertEqual(d.qop, ["auth"])
    }

    func testChallengeQuotedPairsAndEmptyElements() throws {
        let c = try DigestChallenge.parse(#"Digest , realm="ho\"tl\\ine",, nonce = "n\,1" ,opaque="" ,"#)
        XCTAssertEqual(c.realm, #"ho"tl\ine"#)
        XCTAssertEqual(c.nonce, "n,1")
        XCTAssertEqual(c.opaque, "")
        XCTAssertEqual(try DigestChallenge.parse(c.description), c)
    }

    func testLineBreaksInsideQuotedStrings() throws {
        // Leftover folding inside a quoted-string reads as SP, so that
        // serializing and parsing again gives the same value.
        let c = try DigestChallenge.parse("Digest realm=\"a\r\n b\", nonce=\"n\\\rx\"")
        XCTAssertEqual(c.realm, "a   b")
        XCTAssertEqual(c.nonce, "n x")
        XCTAssertEqual(try DigestChallenge.parse(c.description), c)
        XCTAssertThrowsError(try DigestCredentials.parse(#"Digest username*=UTF-8''a%0Db, realm="r", nonce="n", uri="/", response="00""#))
    }

    func testChallengeLWSAroundParameters() throws {
        let c = try DigestChallenge.parse("Digest\r\n realm=\"a\",\r\n\tnonce=\"b\" ,  algorithm = SHA-256")
        XCTAssertEqual(c.realm, "a")
        XCTAssertEqual(c.nonce, "b")
        XCTAssertEqual(c.algorithm, .sha256)
    }

    func testChallengeSerialization() {
        let c = DigestChallenge(realm: "hotline", nonce: "N0nce", algorithm: .sha256)
        XCTAssertEqual(c.description, #"Digest realm="hotline", nonce="N0nce", algorithm=SHA-256, qop="auth""#)
        var s = c
        s.stale = true
        s.opaque = "op"
        XCTAssertEqual(s.description, #"Digest realm="hotline", nonce="N0nce", opaque="op", algorithm=SHA-256, qop="auth", stale=true"#)
    }

    func testChallengeRoundTrip() throws {
        let all = DigestChallenge(realm: "sip.example.com", nonce: "a/b+c=", opaque: "xyz", algorithm: .sha256Session,
                                  qop: ["auth", "auth-int"], stale: true, domain: "sip:example.com sip:other.example.com",
                                  userhash: true)
        XCTAssertEqual(try DigestChallenge.parse(all.description), all)
        for alg in DigestAlgorithm.allCases {
            let c = DigestChallenge(realm: "r", nonce: "n", algorithm: alg)
            XCTAssertEqual(try DigestChallenge.parse(c.description), c)
        }
    }

    func testChallengeErrors() {
        func error(_ v: String, header: String = "WWW-Authenticate") -> SIPParseError? {
            do {
                _ = try DigestChallenge.parse(v, header: header)
                return nil
            } catch {
                return error
            }
        }
        let cases = [
            #"Digest nonce="n""#,                            // no realm
            #"Digest realm="r""#,                            // no nonce
            #"Basic realm="r""#,                             // other scheme
            "",                                              // empty
            "Digest",                                        // no params
            #"Digest realm="r, nonce="n""#,                  // unterminated quote
            #"Digest realm="r", realm="s", nonce="n""#,      // duplicate
            #"Digest realm="r", nonce="n", algorithm=SHA-512-256"#,
            #"Digest realm="r" nonce="n""#,                  // missing comma
            #"Digest realm=, nonce="n""#,                    // empty value
            #"Digest realm"#,                                // no "="
            #"Digest="r""#,                                  // no space after scheme
        ]
        for v in cases {
            guard let e = error(v) else {
                XCTFail("accepted: \(v)")
                continue
            }
            XCTAssertEqual(e.kind, .header, v)
            XCTAssertEqual(e.header, "WWW-Authenticate", v)
            XCTAssertEqual(e.statusCode, 400, v)
        }
        XCTAssertEqual(error(#"Digest nonce="n""#, header: "Proxy-Authenticate")?.header, "Proxy-Authenticate")
        XCTAssertEqual(error(#"Digest nonce="n""#)?.reason, "missing realm")
    }

    func testPreferredChallenge() throws {
        let md5 = #"Digest realm="r", nonce="1", algorithm=MD5, qop="auth""#
        let sha = #"Digest realm="r", nonce="2", algorithm=SHA-256, qop="auth""#
        let sha2 = #"Digest realm="r", nonce="3", algorithm=SHA-256-sess, qop="auth""#
        let unknown = #"Digest realm="r", nonce="4", algorithm=SHA-512-256, qop="auth""#
        XCTAssertEqual(DigestChallenge.preferred(among: [md5, sha])?.nonce, "2")
        XCTAssertEqual(DigestChallenge.preferred(among: [sha, md5])?.nonce, "2")
        XCTAssertEqual(DigestChallenge.preferred(among: [unknown, md5])?.nonce, "1")
        XCTAssertEqual(DigestChallenge.preferred(among: ["Basic realm=\"x\"", md5])?.nonce, "1")
        XCTAssertEqual(DigestChallenge.preferred(among: [md5, sha], supported: [.md5])?.nonce, "1")
        XCTAssertEqual(DigestChallenge.preferred(among: [sha, sha2])?.nonce, "2", "first on ties")
        XCTAssertNil(DigestChallenge.preferred(among: []))
        XCTAssertNil(DigestChallenge.preferred(among: [unknown]))
    }

    // MARK: - Credentials

    func testParseBaresipStyleCredentials() throws {
        let v = #"Digest username="1001",realm="hotline",nonce="abc",uri="sip:127.0.0.1",response="0123456789abcdef0123456789abcdef",algorithm=MD5,cnonce="x",qop=auth,nc=00000001"#
        let c = try DigestCredentials.parse(v)
        XCTAssertEqual(c.username, "1001")
        XCTAssertEqual(c.realm, "hotline")
        XCTAssertEqual(c.nonce, "abc")
        XCTAssertEqual(c.uri, "sip:127.0.0.1")
        XCTAssertEqual(c.response, "0123456789abcdef0123456789abcdef")
        XCTAssertEqual(c.algorithm, .md5)
        XCTAssertEqual(c.cnonce, "x")
        XCTAssertEqual(c.qop, "auth")
        XCTAssertEqual(c.nc, "00000001")
        XCTAssertNil(c.opaque)
        XCTAssertFalse(c.userhash)
    }

    func testParsePjsipStyleCredentials() throws {
        let v = #"Digest username="6001", realm="asterisk", nonce="1715000000/4f0b1a7e9c3d2e6f", uri="sip:6002@192.0.2.10;transport=udp", response="d7a0b1d2c3e4f5061728394a5b6c7d8e", algorithm=MD5, cnonce="8f2c7e1d4b6a4c1f9e0d3b2a", qop=auth, nc=00000001"#
        let c = try DigestCredentials.parse(v, header: "Proxy-Authorization")
        XCTAssertEqual(c.uri, "sip:6002@192.0.2.10;transport=udp")
        XCTAssertEqual(c.nonce, "1715000000/4f0b1a7e9c3d2e6f")
        XCTAssertEqual(c.qop, "auth")
    }

    func testParseAsteriskChanSipStyleCredentials() throws {
        // chan_sip as a UAC: algorithm early, empty opaque echoed, qop before cnonce.
        let v = #"Digest username="trunk1", realm="sip.example.net", algorithm=MD5, uri="sip:+15551234567@sip.example.net", nonce="5f3a1b2c", response="a3f1c2d4e5b6978899aabbccddeeff00", opaque="", qop=auth, cnonce="6b8b4567", nc=0000000A"#
        let c = try DigestCredentials.parse(v)
        XCTAssertEqual(c.username, "trunk1")
        XCTAssertEqual(c.opaque, "")
        XCTAssertEqual(c.cnonce, "6b8b4567")
        XCTAssertEqual(c.nc, "0000000A")
    }

    func testParseLenientQuotingAndRFC2069Style() throws {
        // Some UAs quote qop and algorithm; RFC 2069 style has neither qop nor algorithm.
        let q = try DigestCredentials.parse(#"Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="00", algorithm="SHA-256", qop="AUTH", cnonce="c", nc="00000002""#)
        XCTAssertEqual(q.algorithm, .sha256)
        XCTAssertEqual(q.qop, "auth")
        XCTAssertEqual(q.nc, "00000002")
        let old = try DigestCredentials.parse(#"digest USERNAME="bob", realm="biloxi.com", nonce="dcd98b", uri="sip:bob@biloxi.com", response="245f23415f11432b3434341c022""#)
        XCTAssertEqual(old.algorithm, .md5)
        XCTAssertNil(old.qop)
        XCTAssertNil(old.cnonce)
        XCTAssertNil(old.nc)
    }

    func testParseRFC7616ExampleWithLineBreaks() throws {
        // RFC 7616 §3.9.1, as a folded header value.
        let v = """
        Digest username="Mufasa",\r
               realm="http-auth@example.org",\r
               uri="/dir/index.html",\r
               algorithm=MD5,\r
               nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r
               nc=00000001,\r
               cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",\r
               qop=auth,\r
               response="8ca523f5e9506fed4657c9700eebdbec",\r
               opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
        """
        let c = try DigestCredentials.parse(v)
        XCTAssertEqual(c.username, "Mufasa")
        XCTAssertEqual(c.uri, "/dir/index.html")
        XCTAssertEqual(c.response, "8ca523f5e9506fed4657c9700eebdbec")
        XCTAssertEqual(c.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
    }

    func testExtendedUsername() throws {
        // RFC 7616 §3.4.4 / §3.9.2 username* (RFC 8187 ext-value).
        let c = try DigestCredentials.parse(#"Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm="r", nonce="n", uri="/", response="00", userhash=false"#)
        XCTAssertEqual(c.username, "J\u{E4}s\u{F8}n Doe")
        XCTAssertFalse(c.userhash)
        XCTAssertThrowsError(try DigestCredentials.parse(#"Digest username="a", username*=UTF-8''a, realm="r", nonce="n", uri="/", response="00""#))
        XCTAssertThrowsError(try DigestCredentials.parse(#"Digest username*=ISO-8859-1''a, realm="r", nonce="n", uri="/", response="00""#))
    }

    func testCredentialsSerialization() {
        let c = DigestCredentials(username: "1001", realm: "hotline", nonce: "abc", uri: "sip:127.0.0.1",
                                  response: "0a1b", algorithm: .sha256, cnonce: "x", opaque: "o",
                                  qop: "auth", nc: "00000001")
        XCTAssertEqual(c.description,
                       #"Digest username="1001", realm="hotline", nonce="abc", uri="sip:127.0.0.1", response="0a1b", algorithm=SHA-256, cnonce="x", opaque="o", qop=auth, nc=00000001"#)
        let bare = DigestCredentials(username: "a\"b", realm: "r", nonce: "n", uri: "sip:x", response: "00")
        XCTAssertEqual(bare.description, #"Digest username="a\"b", realm="r", nonce="n", uri="sip:x", response="00", algorithm=MD5"#)
    }

    func testCredentialsRoundTrip() throws {
        let samples = [
            DigestCredentials(username: "1001", realm: "hotline", nonce: "abc", uri: "sip:127.0.0.1", response: "ff",
                              algorithm: .md5Session, cnonce: "c,n", opaque: "", qop: "auth", nc: "0000ffff", userhash: true),
            DigestCredentials(username: #"we\ird "name""#, realm: "r e", nonce: "n", uri: "sip:a@b;lr", response: "00"),
        ]
        for c in samples {
            XCTAssertEqual(try DigestCredentials.parse(c.description), c)
        }
    }

    func testCredentialsErrors() {
        let base = #"username="u", realm="r", nonce="n", uri="sip:a@b", response="00""#
        XCTAssertNoThrow(try DigestCredentials.parse("Digest " + base))
        let bad = [
            #"Digest realm="r", nonce="n", uri="sip:a@b", response="00""#,
            #"Digest username="u", nonce="n", uri="sip:a@b", response="00""#,
            #"Digest username="u", realm="r", uri="sip:a@b", response="00""#,
            #"Digest username="u", realm="r", nonce="n", response="00""#,
            #"Digest username="u", realm="r", nonce="n", uri="sip:a@b""#,
            "Digest " + base + ", nc=1",
            "Digest " + base + ", nc=0000000g",
            "Digest " + base + ", nc=000000001",
            "Digest " + base + ", algorithm=SHA-512-256",
            "Digest " + base + #", response="11""#,
            "Basic dXNlcjpwYXNz",
        ]
        for v in bad {
            do {
                _ = try DigestCredentials.parse(v, header: "Proxy-Authorization")
                XCTFail("accepted: \(v)")
            } catch {
                XCTAssertEqual(error.header, "Proxy-Authorization", v)
                XCTAssertEqual(error.statusCode, 400, v)
            }
        }
    }
}
