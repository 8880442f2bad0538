/// Audio codecs this stack can send and receive.
public enum AudioCodec: String, Sendable, Equatable, CaseIterable {
    case pcmu, pcma, g722, opus

    /// The encoding name of the rtpmap (RFC 3551 §6, RFC 7587 §7).
    public var encodingName: String {
        switch self {
        case .pcmu: return "PCMU"
        case .pcma: return "PCMA"
        case .g722: return "G722"
        case .opus: return "opus"
        }
    }

    /// The RTP clock rate. G.722 samples at 16 kHz but its RTP clock is 8000 for historical
    /// reasons (RFC 3551 §4.5.2); Opus always uses 48000 whatever rate it codes at (RFC 7587 §4.1).
    public var clockRate: Int {
        switch self {
        case .pcmu, .pcma, .g722: return 8000
        case .opus: return 48000
        }
    }

    /// The rtpmap's encoding parameters: Opus is always declared stereo (RFC 7587 §7).
    public var rtpmapChannels: Int? { self == .opus ? 2 : nil }

    /// The payload type we use in our offers: the RFC 3551 static one, or 111 for Opus.
    public var staticPayloadType: Int {
        switch self {
        case .pcmu: return 0
        case .pcma: return 8
        case .g722: return 9
        case .opus: return 111
        }
    }

    /// The fmtp we declare: Opus in-band FEC on receive (RFC 7587 §6.1).
    public var offeredFormatParameters: String? { self == .opus ? "useinbandfec=1" : nil }

    /// Whether an rtpmap names this codec (encoding case-insensitively, rate, channels).
    func matches(_ map: RTPMap) -> Bool {
        guard map.encoding.lowercased() == encodingName.lowercased(), map.clockRate == clockRate else { return false }
        switch self {
        case .opus: return map.channels == nil || map.channels == 2 || map.channels == 1
        case .pcmu, .pcma, .g722: return map.channels == nil || map.channels == 1
        }
    }

    var rtpmap: RTPMap {
        RTPMap(payloadType: staticPayloadType, encoding: encodingName, clockRate: clockRate,
               channels: rtpmapChannels, fmtp: offeredFormatParameters)
    }
}

/// The result of answering an offer: what to send, where, and how.
public struct NegotiatedAudio: Sendable, Equatable {
    public var codec: AudioCodec
    /// The payload type to use when sending (the offer's payload type for the codec).
    public var payloadType: Int
    /// The offer's telephone-event payload type, if it offered one.
    public var telephoneEventPayloadType: Int?
    /// The telephone-event clock rate (8000, or the audio's rate, e.g. 48000 for Opus).
    public var telephoneEventClockRate: Int
    /// Where to send RTP: media-level `c=` over session-level `c=`. May be the hold address 0.0.0.0.
    public var remoteAddress: String
    public var remotePort: Int
    /// OUR direction: the offer's direction reversed (RFC 3264 §6.1).
    public var direction: MediaDirection
    /// Packetization time in milliseconds.
    public var ptime: Int
    /// Index of the negotiated stream among the offer's (and the answer's) `m=` lines.
    public var mediaIndex: Int

    public init(codec: AudioCodec, payloadType: Int, telephoneEventPayloadType: Int?, telephoneEventClockRate: Int = 8000,
                remoteAddress: String, remotePort: Int, direction: MediaDirection, ptime: Int = 20, mediaIndex: Int = 0) {
        self.codec = codec
        self.payloadType = payloadType
        self.telephoneEventPayloadType = telephoneEventPayloadType
        self.telephoneEventClockRate = telephoneEventClockRate
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
    /// The offer has audio streams, but none offers a codec we accept.
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
        case .noCommonCodec: return "offer has no codec in common with us"
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
    /// - Picks, in the first usable audio stream, the first codec of `supported` (our order of
    ///   preference, `media.codecs`: G.711 first avoids transcoding against the carrier) that
    ///   the stream offers (by rtpmap name, case-insensitively, with the codec's clock rate,
    ///   or by static PT 0/8/9 without rtpmap).
    /// - Keeps the offer's telephone-event payload type in 96...127 at the codec's clock
    ///   rate, else at 8000, if any.
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
                              userName: String = "hotline", supported: [AudioCodec] = AudioCodec.allCases)
        throws(OfferAnswerError) -> (answer: SessionDescription, negotiated: NegotiatedAudio)
    {
        guard (0...65535).contains(localPort) else { throw .invalidLocalPort(localPort) }

        var sawAudio = false
        var chosen: (index: Int, codec: AudioCodec, pt: Int, te: Int?)?
        for (index, m) in offer.media.enumerated() {
            guard isUsableAudio(m) else { continue }
            sawAudio = true
            if let (codec, pt) = pickCodec(m, supported: supported) {
                chosen = (index, codec, pt, pickTelephoneEvent(m, clockRate: codec.clockRate))
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
                var chosenMap = chosen.codec.rtpmap
                chosenMap.payloadType = chosen.pt
                var maps: [Int: RTPMap] = [chosen.pt: chosenMap]
                if let te = chosen.te {
                    formats.append(String(te))
                    maps[te] = RTPMap(payloadType: te, encoding: "telephone-event", clockRate: m.rtpmaps[te]?.clockRate ?? 8000,
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
            telephoneEventClockRate: chosen.te.flatMap { offered.rtpmaps[$0]?.clockRate } ?? 8000,
            remoteAddress: remote.address, remotePort: offered.port, direction: ourDirection,
            ptime: packetizationTime, mediaIndex: chosen.index)
        return (answer, negotiated)
    }

    static func isUsableAudio(_ m: MediaDescription) -> Bool {
        m.media.lowercased() == "audio" && m.port != 0 && m.proto.uppercased() == "RTP/AVP"
    }

    /// The codec to use from `m`: the first of `supported` (our preference) that the stream
    /// lists, or with `theirOrder`, the first the stream lists that is one of `supported` (an
    /// answer to our offer names the answerer's choice first).
    static func pickCodec(_ m: MediaDescription, supported: [AudioCodec], theirOrder: Bool = false) -> (AudioCodec, Int)? {
        let maps = m.rtpmaps
        let offered: [(Int, RTPMap)] = m.formats.compactMap { f in Int(f).flatMap { pt in maps[pt].map { (pt, $0) } } }
        if theirOrder {
            for (pt, map) in offered {
                if let codec = supported.first(where: { $0.matches(map) }) { return (codec, pt) }
            }
            return nil
        }
        for codec in supported {
            if let (pt, _) = offered.first(where: { codec.matches($0.1) }) { return (codec, pt) }
        }
        return nil
    }

    /// The first listed telephone-event payload type in the dynamic range at `clockRate`
    /// (RFC 4733 §2.1: the event clock is the audio's), else the first at 8000.
    static func pickTelephoneEvent(_ m: MediaDescription, clockRate: Int = 8000) -> Int? {
        let maps = m.rtpmaps
        var fallback: Int?
        for format in m.formats {
            guard let pt = Int(format), (96...127).contains(pt), let map = maps[pt] else { continue }
            guard map.encoding.lowercased() == "telephone-event" else { continue }
            if map.clockRate == clockRate { return pt }
            if map.clockRate == 8000, fallback == nil { fallback = pt }
        }
        return fallback
    }
}
