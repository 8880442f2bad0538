/// The offerer's side of RFC 3264: our offers on outgoing calls and re-INVITEs, and reading
/// the peer's answer back into what was agreed.
extension OfferAnswer {
    /// An audio offer: `codecs` in our order of preference, plus telephone-event at
    /// `telephoneEventPayloadType` (RFC 4733), 20 ms packets.
    public static func offer(
        localAddress: String, localPort: Int, sessionID: UInt64, sessionVersion: UInt64,
        codecs: [AudioCodec] = [.pcmu, .pcma], telephoneEventPayloadType: Int? = 101,
        direction: MediaDirection = .sendrecv, userName: String = "hotline"
    ) -> SessionDescription {
        var formats = codecs.map { String($0.staticPayloadType) }
        var maps: [Int: RTPMap] = [:]
        for codec in codecs { maps[codec.staticPayloadType] = codec.rtpmap }
        if let te = telephoneEventPayloadType {
            formats.append(String(te))
            maps[te] = RTPMap(payloadType: te, encoding: "telephone-event", clockRate: 8000, fmtp: telephoneEventRange)
            // Opus streams run a 48 kHz clock: offer events at that rate as well (RFC 4733 §2.1).
            if codecs.contains(.opus), te < 127, !codecs.contains(where: { $0.staticPayloadType == te + 1 }) {
                formats.append(String(te + 1))
                maps[te + 1] = RTPMap(payloadType: te + 1, encoding: "telephone-event", clockRate: 48000, fmtp: telephoneEventRange)
            }
        }
        var audio = MediaDescription(media: "audio", port: localPort, proto: "RTP/AVP", formats: formats)
        audio.rtpmaps = maps
        audio.ptime = packetizationTime
        audio.direction = direction
        let connection = Connection(address: localAddress)
        return SessionDescription(
            version: 0,
            origin: Origin(username: userName, sessionID: sessionID, sessionVersion: sessionVersion,
                           netType: "IN", addressType: connection.addressType, address: connection.address),
            sessionName: userName, connection: connection, timing: ["0 0"], attributes: [], media: [audio])
    }

    /// What the answer to our offer agreed: the first accepted audio stream's first codec that
    /// we offered. `direction` is ours (the answer's reversed).
    public static func negotiated(answer: SessionDescription, offered codecs: [AudioCodec] = [.pcmu, .pcma])
        throws(OfferAnswerError) -> NegotiatedAudio
    {
        for (index, m) in answer.media.enumerated() where isUsableAudio(m) {
            guard let (codec, pt) = pickCodec(m, supported: codecs, theirOrder: true) else { continue }
            let te = pickTelephoneEvent(m, clockRate: codec.clockRate)
            guard let remote = m.connection ?? answer.connection else { throw .noConnectionAddress }
            var theirs = m.direction
            if remote.isHoldAddress { theirs = MediaDirection(sends: theirs.sends, receives: false) }
            return NegotiatedAudio(
                codec: codec, payloadType: pt, telephoneEventPayloadType: te,
                telephoneEventClockRate: te.flatMap { m.rtpmaps[$0]?.clockRate } ?? 8000,
                remoteAddress: remote.address, remotePort: m.port, direction: theirs.reversed,
                ptime: m.ptime ?? packetizationTime, mediaIndex: index)
        }
        throw answer.media.contains(where: isUsableAudio) ? .noCommonCodec : .noAudioStream
    }
}
