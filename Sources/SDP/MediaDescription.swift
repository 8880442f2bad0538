/// One media section: an `m=` line and the `c=`, `a=` (and other) lines that follow it.
///
/// `attributes` is the wire truth. `direction`, `rtpmaps` and `ptime` are views over
/// the attributes; their setters rewrite the corresponding attributes.
public struct MediaDescription: Sendable, Equatable {
    /// Media type, e.g. "audio", "video".
    public var media: String
    public var port: Int
    /// The `/<number of ports>` suffix of the port field, if present.
    public var numberOfPorts: Int?
    /// Transport protocol, e.g. "RTP/AVP".
    public var proto: String
    /// Media formats (payload types for RTP) as listed, in preference order.
    public var formats: [String]
    /// Media-level `c=`.
    public var connection: Connection?
    /// Media-level `a=` lines, in order.
    public var attributes: [Attribute]
    /// Media-level `i=`, `b=`, `k=` and unknown lines, in order.
    public var otherLines: [SDPLine]
    /// The session-level direction attribute at parse time; applies when the media
    /// section has no direction attribute of its own (RFC 3264 §5.1).
    public var inheritedDirection: MediaDirection?

    public init(media: String, port: Int, numberOfPorts: Int? = nil, proto: String, formats: [String],
                connection: Connection? = nil, attributes: [Attribute] = [], otherLines: [SDPLine] = [],
                inheritedDirection: MediaDirection? = nil) {
        self.media = media
        self.port = port
        self.numberOfPorts = numberOfPorts
        self.proto = proto
        self.formats = formats
        self.connection = connection
        self.attributes = attributes
        self.otherLines = otherLines
        self.inheritedDirection = inheritedDirection
    }

    /// Direction from `a=sendrecv/sendonly/recvonly/inactive` at media level, else at
    /// session level, else `sendrecv`. Setting it replaces the media-level direction attribute.
    public var direction: MediaDirection {
        get {
            for attribute in attributes where attribute.value == nil {
                if let d = MediaDirection(rawValue: attribute.name) { return d }
            }
            return inheritedDirection ?? .sendrecv
        }
        set {
            attributes.removeAll { $0.value == nil && MediaDirection(rawValue: $0.name) != nil }
            attributes.append(Attribute(name: newValue.rawValue))
        }
    }

    /// Payload type → mapping: explicit `a=rtpmap` lines (with their `a=fmtp`) plus the
    /// RFC 3551 static defaults for listed static payload types without an `a=rtpmap`.
    /// Malformed `a=rtpmap` lines are ignored.
    ///
    /// Setting it removes all `a=rtpmap`/`a=fmtp` attributes and appends new ones
    /// (listed formats first, in `formats` order); `formats` is not changed.
    public var rtpmaps: [Int: RTPMap] {
        get {
            var maps: [Int: RTPMap] = [:]
            for attribute in attributes where attribute.name == "rtpmap" {
                if let value = attribute.value, let map = RTPMap(rtpmapValue: value), maps[map.payloadType] == nil {
                    maps[map.payloadType] = map
                }
            }
            for format in formats {
                if let pt = Int(format), maps[pt] == nil, let map = RTPMap.staticMapping(for: pt) {
                    maps[pt] = map
                }
            }
            for attribute in attributes where attribute.name == "fmtp" {
                guard let value = attribute.value else { continue }
                let parts = value.split(separator: " ", maxSplits: 1)
                if let first = parts.first, let pt = Int(first), maps[pt] != nil, maps[pt]?.fmtp == nil {
                    maps[pt]?.fmtp = parts.count > 1 ? String(parts[1]) : ""
                }
            }
            return maps
        }
        set {
            attributes.removeAll { $0.name == "rtpmap" || $0.name == "fmtp" }
            let listed = formats.compactMap { Int($0) }.filter { newValue[$0] != nil }
            let rest = newValue.keys.filter { !listed.contains($0) }.sorted()
            for pt in listed + rest {
                guard let map = newValue[pt] else { continue }
                attributes.append(Attribute(name: "rtpmap", value: map.rtpmapValue))
                if let fmtp = map.fmtp {
                    attributes.append(Attribute(name: "fmtp", value: "\(pt) \(fmtp)"))
                }
            }
        }
    }

    /// `a=ptime` in milliseconds; setting nil removes it.
    public var ptime: Int? {
        get {
            for attribute in attributes where attribute.name == "ptime" {
                if let value = attribute.value, let ms = Int(value.trimmingSpaces()), ms > 0 { return ms }
            }
            return nil
        }
        set {
            attributes.removeAll { $0.name == "ptime" }
            if let newValue { attributes.append(Attribute(name: "ptime", value: String(newValue))) }
        }
    }

    /// Values of all attributes with the given name, in order.
    public func attributeValues(_ name: String) -> [String] {
        attributes.compactMap { $0.name == name ? ($0.value ?? "") : nil }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
