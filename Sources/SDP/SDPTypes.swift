// Value types of an SDP session description (RFC 8866, formerly RFC 4566).
//
// The model keeps every line it does not interpret (i=, u=, e=, p=, b=, z=, k=,
// r= and any unknown letter) in `otherLines`, so parse → serialize does not lose
// information. Only the ordering of those lines relative to each other inside a
// section is preserved; see `SessionDescription.serialize()`.

/// Error thrown by `SessionDescription.parse(_:)`.
public struct SDPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number of the offending line (0 when the problem is the text as a whole).
    public var line: Int
    /// What is wrong with that line.
    public var reason: Reason

    public enum Reason: Sendable, Equatable {
        /// The text contains no SDP lines at all.
        case empty
        /// The line is not of the form `<letter>=<value>`.
        case malformedLine
        /// The first line is not `v=`.
        case missingVersion
        /// `v=` holds something other than `0`.
        case unsupportedVersion(String)
        /// A `v=`, `o=` or `s=` line appears twice.
        case duplicateLine(Character)
        /// The session section lacks a required line (`o=`).
        case missingLine(Character)
        /// `o=` is not `<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
        case malformedOrigin
        /// `c=` is not `<nettype> <addrtype> <address>`.
        case malformedConnection
        /// `m=` is not `<media> <port>[/<count>] <proto> <fmt> ...`, or its port is out of range.
        case malformedMedia
        /// A session-level-only line (v=, o=, s=, t=, ...) appears inside a media section.
        case notAllowedInMedia(Character)
    }

    public init(line: Int, reason: Reason) {
        self.line = line
        self.reason = reason
    }

    public var description: String {
        let what: String
        switch reason {
        case .empty: what = "empty session description"
        case .malformedLine: what = "expected '<type>=<value>'"
        case .missingVersion: what = "first line must be 'v='"
        case .unsupportedVersion(let v): what = "unsupported protocol version '\(v)'"
        case .duplicateLine(let t): what = "duplicate '\(t)=' line"
        case .missingLine(let t): what = "missing '\(t)=' line"
        case .malformedOrigin: what = "malformed 'o=' line"
        case .malformedConnection: what = "malformed 'c=' line"
        case .malformedMedia: what = "malformed 'm=' line"
        case .notAllowedInMedia(let t): what = "'\(t)=' line not allowed in a media section"
        }
        return line > 0 ? "SDP line \(line): \(what)" : "SDP: \(what)"
    }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
public struct Origin: Sendable, Equatable {
    public var username: String
    public var sessionID: UInt64
    public var sessionVersion: UInt64
    public var netType: String
    public var addressType: String
    public var address: String

    public init(username: String, sessionID: UInt64, sessionVersion: UInt64,
                netType: String = "IN", addressType: String, address: String) {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.netType = netType
        self.addressType = addressType
        self.address = address
    }
}

/// `c=<nettype> <addrtype> <connection-address>`
public struct Connection: Sendable, Equatable {
    public var netType: String
    public var addressType: String
    /// Address as written, including any `/ttl` or `/count` suffix.
    public var address: String

    public init(netType: String = "IN", addressType: String, address: String) {
        self.netType = netType
        self.addressType = addressType
        self.address = address
    }

    /// `c=IN IP4 <addr>` or `c=IN IP6 <addr>` chosen from the address syntax
    /// (a `[v6]` bracketed literal is unwrapped).
    public init(address: String) {
        var a = Substring(address)
        if a.hasPrefix("["), a.hasSuffix("]") { a = a.dropFirst().dropLast() }
        self.init(netType: "IN", addressType: a.contains(":") ? "IP6" : "IP4", address: String(a))
    }

    /// True for the RFC 2543 "hold" address `0.0.0.0` (and its IPv6 analogue `::`).
    public var isHoldAddress: Bool {
        let host = address.split(separator: "/", maxSplits: 1).first.map(String.init) ?? address
        return host == "0.0.0.0" || host == "::"
    }
}

/// `a=<name>` or `a=<name>:<value>`
public struct Attribute: Sendable, Equatable {
    public var name: String
    public var value: String?

    public init(name: String, value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// Parses the text after `a=`.
    public init(line: Substring) {
        if let colon = line.firstIndex(of: ":") {
            name = String(line[..<colon])
            value = String(line[line.index(after: colon)...])
        } else {
            name = String(line)
            value = nil
        }
    }

    var serialized: String { value.map { "\(name):\($0)" } ?? name }
}

/// A line the model does not interpret, kept verbatim (`<type>=<value>`).
public struct SDPLine: Sendable, Equatable {
    public var type: Character
    public var value: String

    public init(type: Character, value: String) {
        self.type = type
        self.value = value
    }
}

/// Stream direction (RFC 3264 §5.1, §6.1).
public enum MediaDirection: String, Sendable, CaseIterable {
    case sendrecv, sendonly, recvonly, inactive

    /// The direction the other side of the stream sees: sendonly ↔ recvonly.
    public var reversed: MediaDirection {
        switch self {
        case .sendonly: return .recvonly
        case .recvonly: return .sendonly
        case .sendrecv, .inactive: return self
        }
    }

    public var sends: Bool { self == .sendrecv || self == .sendonly }
    public var receives: Bool { self == .sendrecv || self == .recvonly }

    /// Builds a direction from its send and receive capabilities.
    public init(sends: Bool, receives: Bool) {
        switch (sends, receives) {
        case (true, true): self = .sendrecv
        case (true, false): self = .sendonly
        case (false, true): self = .recvonly
        case (false, false): self = .inactive
        }
    }
}

/// One payload format: `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` plus its `a=fmtp`.
public struct RTPMap: Sendable, Equatable {
    public var payloadType: Int
    public var encoding: String
    public var clockRate: Int
    /// Encoding parameters (channel count for audio); nil when absent (meaning 1 for audio).
    public var channels: Int?
    /// The format parameters from `a=fmtp:<pt> <params>`, if any.
    public var fmtp: String?

    public init(payloadType: Int, encoding: String, clockRate: Int, channels: Int? = nil, fmtp: String? = nil) {
        self.payloadType = payloadType
        self.encoding = encoding
        self.clockRate = clockRate
        self.channels = channels
        self.fmtp = fmtp
    }

    /// Parses the value of an `a=rtpmap` attribute (`96 telephone-event/8000`).
    public init?(rtpmapValue: String) {
        let parts = rtpmapValue.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count >= 2, let pt = Int(parts[0]), (0...127).contains(pt) else { return nil }
        let enc = parts[1].split(separator: "/", omittingEmptySubsequences: false)
        guard enc.count >= 2, !enc[0].isEmpty, let rate = Int(enc[1]), rate > 0 else { return nil }
        var channels: Int? = nil
        if enc.count >= 3 {
            guard let c = Int(enc[2]), c > 0 else { return nil }
            channels = c
        }
        self.init(payloadType: pt, encoding: String(enc[0]), clockRate: rate, channels: channels)
    }

    /// The value for an `a=rtpmap` attribute.
    public var rtpmapValue: String {
        var s = "\(payloadType) \(encoding)/\(clockRate)"
        if let channels { s += "/\(channels)" }
        return s
    }

    /// Static payload type assignments of RFC 3551 §6 (tables 4 and 5).
    public static func staticMapping(for payloadType: Int) -> RTPMap? {
        let entry: (String, Int, Int?)
        switch payloadType {
        case 0: entry = ("PCMU", 8000, nil)
        case 3: entry = ("GSM", 8000, nil)
        case 4: entry = ("G723", 8000, nil)
        case 5: entry = ("DVI4", 8000, nil)
        case 6: entry = ("DVI4", 16000, nil)
        case 7: entry = ("LPC", 8000, nil)
        case 8: entry = ("PCMA", 8000, nil)
        case 9: entry = ("G722", 8000, nil)
        case 10: entry = ("L16", 44100, 2)
        case 11: entry = ("L16", 44100, nil)
        case 12: entry = ("QCELP", 8000, nil)
        case 13: entry = ("CN", 8000, nil)
        case 14: entry = ("MPA", 90000, nil)
        case 15: entry = ("G728", 8000, nil)
        case 16: entry = ("DVI4", 11025, nil)
        case 17: entry = ("DVI4", 22050, nil)
        case 18: entry = ("G729", 8000, nil)
        case 25: entry = ("CelB", 90000, nil)
        case 26: entry = ("JPEG", 90000, nil)
        case 28: entry = ("nv", 90000, nil)
        case 31: entry = ("H261", 90000, nil)
        case 32: entry = ("MPV", 90000, nil)
        case 33: entry = ("MP2T", 90000, nil)
        case 34: entry = ("H263", 90000, nil)
        default: return nil
        }
        return RTPMap(payloadType: payloadType, encoding: entry.0, clockRate: entry.1, channels: entry.2)
    }
}
