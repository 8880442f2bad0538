// Byte-level helpers shared by the parsers: character classes (RFC 3261 §25.1),
// text decoding and %-escaping. Everything here is total: no traps on any input.

@usableFromInline let CR: UInt8 = 13
@usableFromInline let LF: UInt8 = 10
@usableFromInline let SP: UInt8 = 32
@usableFromInline let HT: UInt8 = 9

/// Bit flags of `charClasses`.
enum CharClass {
    static let token: UInt16 = 1 << 0          // RFC 3261 token
    static let unreserved: UInt16 = 1 << 1     // alphanum / mark
    static let userExtra: UInt16 = 1 << 2      // user-unreserved: & = + $ , ; ? /
    static let passwordExtra: UInt16 = 1 << 3  // & = + $ ,
    static let paramExtra: UInt16 = 1 << 4     // param-unreserved: [ ] / : & + $
    static let hnvExtra: UInt16 = 1 << 5       // hnv-unreserved: [ ] / ? : + $
    static let host: UInt16 = 1 << 6          // alphanum - . _ (hostname chars, lenient on "_")
    static let word: UInt16 = 1 << 7          // Call-ID word
    static let schemeChar: UInt16 = 1 << 8    // ALPHA DIGIT + - .
    static let alpha: UInt16 = 1 << 9
    static let digit: UInt16 = 1 << 10
    static let hex: UInt16 = 1 << 11
}

let charClasses: [UInt16] = {
    var t = [UInt16](repeating: 0, count: 256)
    func add(_ chars: String, _ flag: UInt16) {
        for b in chars.utf8 { t[Int(b)] |= flag }
    }
    let lower = "abcdefghijklmnopqrstuvwxyz"
    let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    let digits = "0123456789"
    let alnum = lower + upper + digits
    add(lower + upper, CharClass.alpha)
    add(digits, CharClass.digit)
    add(digits + "abcdefABCDEF", CharClass.hex)
    add(alnum + "-.!%*_+`'~", CharClass.token)
    add(alnum + "-_.!~*'()", CharClass.unreserved)
    add("&=+$,;?/", CharClass.userExtra)
    add("&=+$,", CharClass.passwordExtra)
    add("[]/:&+$", CharClass.paramExtra)
    add("[]/?:+$", CharClass.hnvExtra)
    add(alnum + "-._", CharClass.host)
    add(alnum + "-.!%*_+`'~()<>:\\\"/[]?{}", CharClass.word)
    add(alnum + "+-.", CharClass.schemeChar)
    return t
}()

@inline(__always) func hasClass(_ b: UInt8, _ flag: UInt16) -> Bool {
    charClasses[Int(b)] & flag != 0
}
@inline(__always) func isToken(_ b: UInt8) -> Bool { hasClass(b, CharClass.token) }
@inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
@inline(__always) func isWSP(_ b: UInt8) -> Bool { b == SP || b == HT }
/// Whitespace as it may appear inside an already unfolded header value.
@inline(__always) func isLWSByte(_ b: UInt8) -> Bool { b == SP || b == HT || b == CR || b == LF }

@inline(__always) func lowerASCII(_ b: UInt8) -> UInt8 {
    (b >= 65 && b <= 90) ? b | 0x20 : b
}
@inline(__always) func upperASCII(_ b: UInt8) -> UInt8 {
    (b >= 97 && b <= 122) ? b & 0xDF : b
}

func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 48...57: return b - 48
    case 65...70: return b - 55
    case 97...102: return b - 87
    default: return nil
    }
}

/// Decodes bytes as UTF-8 when valid, otherwise as ISO-8859-1. Never fails.
func decodeText<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var ascii = true
    for b in bytes where b >= 0x80 {
        ascii = false
        break
    }
    if ascii { return String(decoding: bytes, as: UTF8.self) }
    if let s = String(validating: bytes, as: UTF8.self) { return s }
    var s = String()
    s.unicodeScalars.reserveCapacity(bytes.count)
    for b in bytes { s.unicodeScalars.append(Unicode.Scalar(b)) }
    return s
}

/// Slice of an array decoded as text (see `decodeText`).
@inline(__always) func text(_ b: [UInt8], _ lo: Int, _ hi: Int) -> String {
    lo < hi ? decodeText(b[lo..<hi]) : ""
}

func lowercasedASCII(_ b: [UInt8], _ lo: Int, _ hi: Int) -> String {
    var needs = false
    for i in lo..<max(lo, hi) where b[i] >= 65 && b[i] <= 90 {
        needs = true
        break
    }
    if !needs { return text(b, lo, hi) }
    return decodeText(b[lo..<hi].lazy.map(lowerASCII))
}

func uppercasedASCII(_ s: String) -> String {
    var needs = false
    for b in s.utf8 where b >= 97 && b <= 122 {
        needs = true
        break
    }
    return needs ? String(decoding: s.utf8.map(upperASCII), as: UTF8.self) : s
}

func lowercasedASCII(_ s: String) -> String {
    var needs = false
    for b in s.utf8 where b >= 65 && b <= 90 {
        needs = true
        break
    }
    return needs ? String(decoding: s.utf8.map(lowerASCII), as: UTF8.self) : s
}

/// ASCII case-insensitive comparison.
func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (p, q) in zip(x, y) where lowerASCII(p) != lowerASCII(q) { return false }
    return true
}

/// Percent-decodes `b[lo..<hi]`. Malformed escapes ("%ZZ", a trailing "%") are
/// kept literally (RFC 4475 esc02: a "%" that is not an escape is just a "%").
func percentDecode(_ b: [UInt8], _ lo: Int, _ hi: Int) -> String {
    var hasPercent = false
    for i in lo..<max(lo, hi) where b[i] == 37 {
        hasPercent = true
        break
    }
    if !hasPercent { return text(b, lo, hi) }
    var out: [UInt8] = []
    out.reserveCapacity(hi - lo)
    var i = lo
    while i < hi {
        let c = b[i]
        if c == 37, i + 2 < hi,
           let h = hexValue(b[i + 1]), let l = hexValue(b[i + 2]) {
            out.append(h << 4 | l)
            i += 3
        } else {
            out.append(c)
            i += 1
        }
    }
    return decodeText(out)
}

private let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

/// %-escapes every byte of `s` that is not in `allowed` (and always "%").
func percentEncode(_ s: String, allowed: UInt16) -> String {
    var clean = true
    for c in s.utf8 where c == 37 || !hasClass(c, allowed) {
        clean = false
        break
    }
    if clean { return s }
    var out: [UInt8] = []
    out.reserveCapacity(s.utf8.count + 8)
    for c in s.utf8 {
        if c != 37 && hasClass(c, allowed) {
            out.append(c)
        } else {
            out.append(37)
            out.append(hexDigits[Int(c >> 4)])
            out.append(hexDigits[Int(c & 0x0F)])
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// Index of the first byte in `lo..<hi` that is not SP/HT/CR/LF.
@inline(__always) func skipLWS(_ b: [UInt8], _ lo: Int, _ hi: Int) -> Int {
    var i = lo
    while i < hi, isLWSByte(b[i]) { i += 1 }
    return i
}

/// End of the range after removing trailing SP/HT/CR/LF.
@inline(__always) func trimTrailingLWS(_ b: [UInt8], _ lo: Int, _ hi: Int) -> Int {
    var j = hi
    while j > lo, isLWSByte(b[j - 1]) { j -= 1 }
    return j
}

/// Parses an unsigned decimal number occupying exactly `lo..<hi`; nil when empty,
/// non-digit or above `max`.
func parseDecimal(_ b: [UInt8], _ lo: Int, _ hi: Int, max: UInt64) -> UInt64? {
    guard lo < hi else { return nil }
    var v: UInt64 = 0
    for i in lo..<hi {
        let c = b[i]
        guard isDigit(c) else { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
        if o1 || o2 || a > max { return nil }
        v = a
    }
    return v
}

/// Scans a quoted-string starting at `b[lo] == '"'`. Returns the index just
/// after the closing quote, or nil when unterminated.
func scanQuoted(_ b: [UInt8], _ lo: Int, _ hi: Int) -> Int? {
    var i = lo + 1
    while i < hi {
        let c = b[i]
        if c == 92 { // backslash: quoted-pair
            i += 2
            continue
        }
        if c == 34 { return i + 1 }
        i += 1
    }
    return nil
}

/// The content of a quoted-string `b[lo..<hi]` (quotes included) with quoted-pairs resolved.
func unquote(_ b: [UInt8], _ lo: Int, _ hi: Int) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(hi - lo)
    var i = lo + 1
    let end = hi - 1
    while i < end {
        if b[i] == 92, i + 1 < end {
            out.append(b[i + 1])
            i += 2
        } else {
            out.append(b[i])
            i += 1
        }
    }
    return decodeText(out)
}

/// Serializes `s` as a quoted-string, escaping `"` `\` and control characters.
func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u.value {
        case 13, 10: out.unicodeScalars.append(" ")
        case 34, 92, 0...8, 11, 12, 14...31, 127:
            out.unicodeScalars.append("\\")
            out.unicodeScalars.append(u)
        default: out.unicodeScalars.append(u)
        }
    }
    out.unicodeScalars.append("\"")
    return out
}
