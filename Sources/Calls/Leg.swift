import Foundation
import HotlineCore
import Logging
import Media
import NIOCore
import SDP
import SIPMessages
import SIPStack

/// One SIP party of a call with its media anchored here: the INVITE session (either side) and
/// the RTP session on our port. Answers the party's new offers (hold, resume, address or codec
/// change) and applies them to the RTP session; turns INFO keys into keys on the media.
public final class Leg: @unchecked Sendable {   // mutable state confined to the SIP loop
    public let sip: InviteSession
    public let rtp: RTPSession
    /// Who the leg is (an account, a trunk number) for logs and events.
    public let party: String
    private let localAddress: String
    private let sessionID: UInt64
    private var sessionVersion: UInt64
    private let noMediaTimeout: TimeAmount?
    /// Keys are consumed on this leg (a menu): listen for tones when the peer sends no events.
    private let consumesKeys: Bool
    /// The party's last offer stopped receiving from us (sendonly, inactive, or a hold
    /// address): it put the call on hold (RFC 3264 §8.4).
    public private(set) var isHolding = false

    init(sip: InviteSession, rtp: RTPSession, party: String, localAddress: String, sessionID: UInt64, noMediaTimeout: TimeAmount?,
         consumesKeys: Bool = false) {
        self.consumesKeys = consumesKeys
        self.sip = sip
        self.rtp = rtp
        self.party = party
        self.localAddress = localAddress
        self.sessionID = sessionID
        self.sessionVersion = sessionID
        self.noMediaTimeout = noMediaTimeout
        sip.setOfferHandler { [weak self] offer in self?.answer(offer) }
    }

    /// RFC 3264 §8: a new offer in the dialog; the answer keeps our address and port and bumps
    /// the o= version (§8, "the version MUST be incremented" when anything changed).
    private func answer(_ offerBytes: [UInt8]) -> [UInt8]? {
        guard let offer = try? SessionDescription.parse(String(decoding: offerBytes, as: UTF8.self)) else { return nil }
        sessionVersion += 1
        guard let (answer, negotiated) = try? OfferAnswer.answer(
            offer: offer, localAddress: localAddress, localPort: rtp.localPort, sessionID: sessionID, sessionVersion: sessionVersion)
        else { return nil }
        rtp.update(parameters: Leg.parameters(negotiated, noMediaTimeout: noMediaTimeout, consumesKeys: consumesKeys))
        isHolding = !negotiated.direction.sends
        return Array(answer.serialize().utf8)
    }

    /// `consumesKeys`: a menu listens to this leg's keys, so a peer without RFC 4733 gets in-band
    /// detection. A bridged leg's tones simply travel in the relayed audio: nothing is decoded.
    static func parameters(_ negotiated: NegotiatedAudio, noMediaTimeout: TimeAmount?, consumesKeys: Bool = false) -> RTPSessionParameters {
        var remote: SocketAddress?
        if negotiated.remotePort > 0, negotiated.remoteAddress != "0.0.0.0", negotiated.remoteAddress != "::" {
            remote = try? SocketAddress(ipAddress: negotiated.remoteAddress, port: negotiated.remotePort)
        }
        return RTPSessionParameters(
            codec: MediaCodec(negotiated.codec),
            payloadType: UInt8(negotiated.payloadType),
            telephoneEventPayloadType: negotiated.telephoneEventPayloadType.map { UInt8($0) },
            telephoneEventClockRate: negotiated.telephoneEventClockRate,
            // A peer that cannot send RFC 4733 events sends its keys as tones (RFC 4733 §1).
            detectInbandKeys: consumesKeys && negotiated.telephoneEventPayloadType == nil,
            remote: remote,
            sends: negotiated.direction == .sendrecv || negotiated.direction == .sendonly,
            receives: negotiated.direction == .sendrecv || negotiated.direction == .recvonly,
            // A held party sends nothing: only watch for silence while it should send.
            noMediaTimeout: negotiated.direction == .sendrecv || negotiated.direction == .recvonly ? noMediaTimeout : nil)
    }
}

extension MediaCodec {
    init(_ codec: AudioCodec) {
        switch codec {
        case .pcmu: self = .pcmu
        case .pcma: self = .pcma
        case .g722: self = .g722
        case .opus: self = .opus
        }
    }
}

public enum OriginateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The account has no reachable registered contact.
    case notRegistered(String)
    /// No account by that name and no trunk to route the number to.
    case noRoute(String)
    /// The callee refused or did not answer: the final SIP status.
    case failed(status: Int, reason: String)
    case noMedia(String)
    case cancelled

    public var description: String {
        switch self {
        case .notRegistered(let a): return "\(a) is not registered"
        case .noRoute(let n): return "no route to \(n)"
        case .failed(let s, let r): return "\(s) \(r)"
        case .noMedia(let e): return "no media: \(e)"
        case .cancelled: return "cancelled"
        }
    }

    /// The status to give the caller of a bridged call when this leg failed.
    public var statusForCaller: Int {
        switch self {
        case .notRegistered: return 480
        case .noRoute: return 404
        case .failed(let s, _): return (s == 401 || s == 407) ? 503 : s
        case .noMedia: return 503
        case .cancelled: return 487
        }
    }
}
