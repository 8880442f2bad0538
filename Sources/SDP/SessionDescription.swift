/// An SDP session description (RFC 8866 / RFC 4566).
///
/// Parsing is tolerant where real user agents deviate harmlessly (LF-only line ends,
/// blank lines, trailing whitespace, a missing `s=` or `t=` line) and strict where the
/// text cannot be a session description (lines not of the form `<letter>=<value>`,
/// `v=` not first, malformed `o=`, `c=` or `m=` lines).
public struct SessionDescription: Sendable, Equatable {
    public var version: Int
    public var origin: Origin
    public var sessionName: String
    /// Session-level `c=`.
    public var connection: Connection?
    /// Values of the `t=` lines ("0 0" for an unbounded session).
    public var timing: [String]
    /// Session-level `a=` lines, in order.
    public var attributes: [Attribute]
    public var media: [MediaDescription]
    /// Session-level `i=`, `u=`, `e=`, `p=`, `b=`, `r=`, `z=`, `k=` and unknown lines, in order.
    public var otherLines: [SDPLine]

    public init(version: Int = 0, origin: Origin, sessionName: String = "-", connection: Connection? = nil,
                timing: [String] = ["0 0"], attributes: [Attribute] = [], media: [MediaDescription] = [],
                otherLines: [SDPLine] = []) {
        self.version = version
        self.origin = origin
        self.sessionName = sessionName
        self.connection = connection
        self.timing = timing
        self.attributes = attributes
        self.media = media
        self.otherLines = otherLines
    }

    /// The session-level direction attribute, if any.
    public var sessionDirection: MediaDirection? {
        for attribute in attributes where attribute.value == nil {
            if let d = MediaDirection(rawValue: attribute.name) { return d }
        }
        return nil
    }

    // MARK: - Parsing

    public static func parse(_ text: String) throws(SDPError) -> SessionDescription {
        var version: Int?
        var origin: Origin?
        var sessionName: String?
        var connection: Connection?
        var timing: [String] = []
        var attributes: [Attribute] = []
        var otherLines: [SDPLine] = []
        var media: [MediaDescription] = []
        var sawAnyLine = false

        var lineNumber = 0
        // Split on LF at the byte level: a Swift String treats "\r\n" as one Character.
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = Substring(rawLine)
            if bytes.utf8.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            if bytes.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }  // blank line

            let utf8 = bytes.utf8
            guard utf8.count >= 2,
                  let typeByte = utf8.first, typeByte >= UInt8(ascii: "a"), typeByte <= UInt8(ascii: "z"),
                  utf8[utf8.index(after: utf8.startIndex)] == UInt8(ascii: "=")
            else { throw SDPError(line: lineNumber, reason: .malformedLine) }
            let type = Character(Unicode.Scalar(typeByte))
            var value = bytes.dropFirst(2)
            if type != "s" && type != "i" {
                while let l = value.last, l == " " || l == "\t" { value = value.dropLast() }
            }

            if !sawAnyLine {
                sawAnyLine = true
                guard type == "v" else { throw SDPError(line: lineNumber, reason: .missingVersion) }
            }

            if !media.isEmpty {
                // Inside a media section.
                let index = media.count - 1
                switch type {
                case "m":
                    media.append(try parseMediaLine(value, line: lineNumber))
                case "c":
                    let c = try parseConnection(value, line: lineNumber)
                    if media[index].connection == nil {
                        media[index].connection = c
                    } else {
                        media[index].otherLines.append(SDPLine(type: "c", value: String(value)))
                    }
                case "a":
                    media[index].attributes.append(Attribute(line: value))
                case "v", "o", "s", "u", "e", "p", "t", "r", "z":
                    throw SDPError(line: lineNumber, reason: .notAllowedInMedia(type))
                default:
                    media[index].otherLines.append(SDPLine(type: type, value: String(value)))
                }
                continue
            }

            switch type {
            case "v":
                guard version == nil else { throw SDPError(line: lineNumber, reason: .duplicateLine("v")) }
                guard value == "0" else { throw SDPError(line: lineNumber, reason: .unsupportedVersion(String(value))) }
                version = 0
            case "o":
                guard origin == nil else { throw SDPError(line: lineNumber, reason: .duplicateLine("o")) }
                origin = try parseOrigin(value, line: lineNumber)
            case "s":
                guard sessionName == nil else { throw SDPError(line: lineNumber, reason: .duplicateLine("s")) }
                sessionName = String(value)
            case "c":
                let c = try parseConnection(value, line: lineNumber)
                if connection == nil {
                    connection = c
                } else {
                    otherLines.append(SDPLine(type: "c", value: String(value)))
                }
            case "t":
                timing.append(String(value))
            case "a":
                attributes.append(Attribute(line: value))
            case "m":
                guard origin != nil else { throw SDPError(line: lineNumber, reason: .missingLine("o")) }
                media.append(try parseMediaLine(value, line: lineNumber))
            default:
                otherLines.append(SDPLine(type: type, value: String(value)))
            }
        }

        guard sawAnyLine, let version else { throw SDPError(line: 0, reason: .empty) }
        guard let origin else { throw SDPError(line: 0, reason: .missingLine("o")) }
        var result = SessionDescription(
            version: version, origin: origin, sessionName: sessionName ?? "-", connection: connection,
            timing: timing.isEmpty ? ["0 0"] : timing, attributes: attributes, media: media,
            otherLines: otherLines)
        let inherited = result.sessionDirection
        for i in result.media.indices { result.media[i].inheritedDirection = inherited }
        return result
    }

    private static func fields(_ value: Substring) -> [Substring] {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" })
    }

    private static func parseOrigin(_ value: Substring, line: Int) throws(SDPError) -> Origin {
        let f = fields(value)
        guard f.count == 6, let id = UInt64(f[1]), let version = UInt64(f[2]) else {
            throw SDPError(line: line, reason: .malformedOrigin)
        }
        return Origin(username: String(f[0]), sessionID: id, sessionVersion: version,
                      netType: String(f[3]), addressType: String(f[4]), address: String(f[5]))
    }

    private static func parseConnection(_ value: Substring, line: Int) throws(SDPError) -> Connection {
        let f = fields(value)
        guard f.count == 3 else { throw SDPError(line: line, reason: .malformedConnection) }
        return Connection(netType: String(f[0]), addressType: String(f[1]), address: String(f[2]))
    }

    private static func parseMediaLine(_ value: Substring, line: Int) throws(SDPError) -> MediaDescription {
        let f = fields(value)
        guard f.count >= 3 else { throw SDPError(line: line, reason: .malformedMedia) }
        let portParts = f[1].split(separator: "/", omittingEmptySubsequences: false)
        guard portParts.count <= 2, let port = Int(portParts[0]), (0...65535).contains(port) else {
            throw SDPError(line: line, reason: .malformedMedia)
        }
        var count: Int?
        if portParts.count == 2 {
            guard let n = Int(portParts[1]), n > 0 else { throw SDPError(line: line, reason: .malformedMedia) }
            count = n
        }
        return MediaDescription(media: String(f[0]), port: port, numberOfPorts: count, proto: String(f[2]),
                                formats: f.dropFirst(3).map(String.init))
    }

    // MARK: - Serialization

    /// Session-level line order of RFC 8866 §5: v o s i u e p c b t r z k a m.
    private static func sessionRank(_ type: Character) -> Int {
        switch type {
        case "i", "u", "e", "p": return 0      // before c=
        case "c", "b": return 1                // after c=, before t=
        case "r", "z", "k": return 2           // after t=
        default: return 3                      // unknown letters: just before a=
        }
    }

    /// Media-level line order: m i c b k a.
    private static func mediaRank(_ type: Character) -> Int {
        type == "i" ? 0 : 1
    }

    /// The description with CRLF line ends (including after the last line), in canonical
    /// order v o s c t a m. Uninterpreted lines are placed at their RFC position
    /// (i/u/e/p before c=, b= after c=, r/z/k after all t= lines, unknown letters before a=).
    public func serialize() -> String {
        var out = ""
        func emit(_ type: Character, _ value: String) {
            out.append(type)
            out.append("=")
            out.append(value)
            out.append("\r\n")
        }
        func emitOther(_ lines: [SDPLine], rank: Int, ranker: (Character) -> Int) {
            for line in lines where ranker(line.type) == rank { emit(line.type, line.value) }
        }

        emit("v", String(version))
        emit("o", "\(origin.username) \(origin.sessionID) \(origin.sessionVersion) \(origin.netType) \(origin.addressType) \(origin.address)")
        emit("s", sessionName)
        emitOther(otherLines, rank: 0, ranker: Self.sessionRank)
        if let connection { emit("c", connection.serialized) }
        emitOther(otherLines, rank: 1, ranker: Self.sessionRank)
        for t in timing.isEmpty ? ["0 0"] : timing { emit("t", t) }
        emitOther(otherLines, rank: 2, ranker: Self.sessionRank)
        emitOther(otherLines, rank: 3, ranker: Self.sessionRank)
        for attribute in attributes { emit("a", attribute.serialized) }

        for m in media {
            var port = String(m.port)
            if let n = m.numberOfPorts { port += "/\(n)" }
            emit("m", ([m.media, port, m.proto] + m.formats).joined(separator: " "))
            emitOther(m.otherLines, rank: 0, ranker: Self.mediaRank)
            if let c = m.connection { emit("c", c.serialized) }
            emitOther(m.otherLines, rank: 1, ranker: Self.mediaRank)
            for attribute in m.attributes { emit("a", attribute.serialized) }
        }
        return out
    }
}

extension Connection {
    var serialized: String { "\(netType) \(addressType) \(address)" }
}
