/// Audio codecs this stack can send today.
public enum AudioCodec: Sendable, Equatable, CaseIterable {
    case pcmu, pcma

    /// The RFC 3551 encoding name.
    public var encodingName: String {
        switch self {
        case .pcmu: return "PCMU"
        case .pcma: return "PCMA"
        }
    }

    public var clockRate: Int { 8000 }

    /// The RFC 3551 static payload type.
    public var staticPayloadType: Int {
        switch self {
        case .pcmu: return 0
        case .pcma: return 8
        }
    }
}

/// The result of answering an offer: what to send, where, and how.
public struct NegotiatedAudio: Sendable, Equatable {
    public var codec: AudioCodec
    /// The payload type to use when sending (the offer's payload type for the codec).
    public var payloadType: Int
    /// The offer's telephone-event/8000 payload type, if it offered one.
    public var telephoneEventPayloadType: Int?
    /// Where to send RTP: media-level `c=` over session-level `c=`. May be the hold address 0.0.0.0.
    public var remoteAddress: String
    public var remotePort: Int
    /// OUR direction: the offer's direction reversed (RFC 3264 §6.1).
    public var direction: MediaDirection
    /// Packetization time in milliseconds.
    public var ptime: Int
    /// Index of the negotiated stream among the offer's (and the answer's) `m=` lines.
    public var mediaIndex: Int

    public init(codec: AudioCodec, payloadType: Int, telephoneEventPayloadType: Int?, remoteAddress: String,
                remotePort: Int, direction: MediaDirection, ptime: Int = 20, mediaIndex: Int = 0) {
        self.codec = codec
        self.payloadType = payloadType
        self.telephoneEventPayloadType = telephoneEventPayloadType
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.direction = direction
        self.ptime = ptime
        self.mediaIndex = mediaIndex
    }
}

/// Why an offer cannot be answered.
public enum OfferAnswerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The offer has no active (port ≠ 0) RTP/AVP audio stream.
    case noAudioStream
    /// The offer has audio streams, but none offers PCMU or PCMA.
    case noCommonCodec
    /// The chosen audio stream has neither a media-level nor a session-level `c=`.
    case noConnectionAddress
    /// The caller passed a local port outside 0...65535 (a local bug, not the peer's fault).
    case invalidLocalPort(Int)

    /// The SIP status code to reject the INVITE/UPDATE/re-INVITE with.
    public var statusCode: Int {
        switch self {
        case .noAudioStream, .noCommonCodec, .noConnectionAddress: return 488  // Not Acceptable Here
        case .invalidLocalPort: return 500
        }
    }

    public var description: String {
        switch self {
        case .noAudioStream: return "offer has no usable RTP/AVP audio stream"
        case .noCommonCodec: return "offer has no codec in common with us (PCMU, PCMA)"
        case .noConnectionAddress: return "offered audio stream has no connection address"
        case .invalidLocalPort(let p): return "invalid local RTP port \(p)"
        }
    }
}

/// RFC 3264 answerer for a single audio stream.
public enum OfferAnswer {
    /// The telephone-event events we accept (DTMF 0-9, *, #, A-D, flash).
    public static let telephoneEventRange = "0-16"
    public static let packetizationTime = 20

    /// Answers `offer`.
    ///
    /// - Picks the first (caller's most preferred) payload type of the first usable audio
    ///   stream that maps to PCMU or PCMA (by rtpmap name, case-insensitively, at 8000 Hz
    ///   mono, or by static PT 0/8 without rtpmap).
    /// - Keeps the offer's first telephone-event/8000 payload type in 96...127, if any.
    /// - Answers one `m=` line per offered `m=` line, in order. Non-audio streams, streams
    ///   with another transport than RTP/AVP, streams the offer disabled (port 0), audio
    ///   streams without a common codec, and audio streams after the chosen one are
    ///   rejected with port 0 (RFC 3264 §6).
    /// - `localPort` 0 is accepted so that a caller can negotiate before it has allocated its
    ///   RTP port; the answer SDP is then not usable (its audio stream reads as rejected)
    ///   and must be rebuilt with the real port.
    /// - Our direction is the offer's reversed. A hold address (`c=0.0.0.0`, RFC 3264 §8.4)
    ///   means the offerer does not want to receive, so sendrecv is treated as sendonly
    ///   (answer recvonly) and recvonly as inactive.
    public static func answer(offer: SessionDescription, localAddress: String, localPort: Int,
                              sessionID: UInt64, sessionVersion: UInt64,
                              userName: String = "hotline") throws(OfferAnswerError)
        -> (answer: SessionDescription, negotiated: NegotiatedAudio)
    {
        guard (0...65535).contains(localPort) else { throw .invalidLocalPort(localPort) }

        var sawAudio = false
        var chosen: (index: Int, codec: AudioCodec, pt: Int, te: Int?)?
        for (index, m) in offer.media.enumerated() {
            guard isUsableAudio(m) else { continue }
            sawAudio = true
            if let (codec, pt) = pickCodec(m) {
                chosen = (index, codec, pt, pickTelephoneEvent(m))
                break
            }
        }
        guard let chosen else { throw sawAudio ? .noCommonCodec : .noAudioStream }

        let offered = offer.media[chosen.index]
        guard let remote = offered.connection ?? offer.connection else { throw .noConnectionAddress }

        var offerDirection = offered.direction
        if remote.isHoldAddress {
            offerDirection = MediaDirection(sends: offerDirection.sends, receives: false)
        }
        let ourDirection = offerDirection.reversed

        let ourConnection = Connection(address: localAddress)
        var answerMedia: [MediaDescription] = []
        for (index, m) in offer.media.enumerated() {
            if index == chosen.index {
                var formats = [String(chosen.pt)]
                var maps: [Int: RTPMap] = [chosen.pt: RTPMap(payloadType: chosen.pt, encoding: chosen.codec.encodingName,
                                                             clockRate: chosen.codec.clockRate)]
                if let te = chosen.te {
                    formats.append(String(te))
                    maps[te] = RTPMap(payloadType: te, encoding: "telephone-event", clockRate: 8000,
                                      fmtp: telephoneEventRange)
                }
                var answered = MediaDescription(media: m.media, port: localPort, proto: m.proto, formats: formats)
                answered.rtpmaps = maps
                answered.ptime = packetizationTime
                answered.direction = ourDirection
                answerMedia.append(answered)
            } else {
                // RFC 3264 §6: a rejected stream keeps its media type, transport and
                // at least one format, with port 0.
                answerMedia.append(MediaDescription(media: m.media, port: 0, proto: m.proto,
                                                    formats: m.formats.isEmpty ? ["0"] : m.formats))
            }
        }

        let answer = SessionDescription(
            version: 0,
            origin: Origin(username: userName, sessionID: sessionID, sessionVersion: sessionVersion,
                           netType: "IN", addressType: ourConnection.addressType, address: ourConnection.address),
            sessionName: userName,
            connection: ourConnection,
            timing: ["0 0"],
            attributes: [],
            media: answerMedia)
        let negotiated = NegotiatedAudio(
            codec: chosen.codec, payloadType: chosen.pt, telephoneEventPayloadType: chosen.te,
            remoteAddress: remote.address, remotePort: offered.port, direction: ourDirection,
            ptime: packetizationTime, mediaIndex: chosen.index)
        return (answer, negotiated)
    }

    static func isUsableAudio(_ m: MediaDescription) -> Bool {
        m.media.lowercased() == "audio" && m.port != 0 && m.proto.uppercased() == "RTP/AVP"
    }

    /// The first listed payload type that is PCMU or PCMA.
    static func pickCodec(_ m: MediaDescription) -> (AudioCodec, Int)? {
        let maps = m.rtpmaps
        for format in m.formats {
            guard let pt = Int(format), let map = maps[pt] else { continue }
            guard map.clockRate == 8000, map.channels == nil || map.channels == 1 else { continue }
            switch map.encoding.lowercased() {
            case "pcmu": return (.pcmu, pt)
            case "pcma": return (.pcma, pt)
            default: continue
            }
        }
        return nil
    }

    /// The first listed telephone-event/8000 payload type in the dynamic range.
    static func pickTelephoneEvent(_ m: MediaDescription) -> Int? {
        let maps = m.rtpmaps
        for format in m.formats {
            guard let pt = Int(format), (96...127).contains(pt), let map = maps[pt] else { continue }
            if map.encoding.lowercased() == "telephone-event", map.clockRate == 8000 { return pt }
        }
        return nil
    }
}
