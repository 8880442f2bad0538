import SIPMessages

// Digest challenge and credentials parsers (SIPMessages/DigestHeaders.swift).
extension FuzzTarget {
    static func digest(_ value: String) {
        if let challenge = try? DigestChallenge.parse(value) {
            reparse(challenge.description, { text throws(SIPParseError) in try DigestChallenge.parse(text) }, "DigestChallenge")
            _ = DigestChallenge.preferred(among: [value, challenge.description])
        }
        if let credentials = try? DigestCredentials.parse(value, header: "Proxy-Authorization") {
            // `description` writes qop unquoted, as RFC 7616 §3.4 has it (a
            // token). A qop that arrived as a quoted-string holding something
            // that is not a token ("", "a, b") cannot be written that way, so
            // the round trip is only required for qop values that are tokens.
            if credentials.qop.map(isUnquotedValue) ?? true {
                reparse(credentials.description, { text throws(SIPParseError) in try DigestCredentials.parse(text) }, "DigestCredentials")
            }
        }
    }

    /// What `parseDigestParams` reads as an unquoted value: 1*(VCHAR except `,` and `"`).
    static func isUnquotedValue(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 > 32 && $0 != 127 && $0 != 44 && $0 != 34 }
    }
}
