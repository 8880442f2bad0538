import Foundation
import HotlineCore
import Logging
import Media
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import SDP
import SIPMessages
import SIPStack

/// A called number this node answers, and how.
public struct Line: Sendable {
    public var number: String
    public var language: String
    public init(number: String, language: String) {
        self.number = number
        self.language = language
    }
}

public struct CallSettings: Sendable {
    public var lines: [String: Line]
    /// Hang up when no RTP arrived for this long (nil: never).
    public var noMediaTimeout: Duration?
    /// Ring (180) this long before answering; zero answers at once.
    public var answerDelay: Duration
    public var flow: FirstMenuFlow

    public init(lines: [Line], noMediaTimeout: Duration?, answerDelay: Duration = .zero, flow: FirstMenuFlow = FirstMenuFlow()) {
        self.lines = Dictionary(lines.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
        self.noMediaTimeout = noMediaTimeout
        self.answerDelay = answerDelay
        self.flow = flow
    }
}

/// The call layer's entry point: takes new INVITEs from the SIP endpoint, routes them by the
/// dialled number, negotiates media, answers, runs the call flow, and keeps the registry of
/// live calls (for drain on shutdown and for the API).
public final class CallManager: SIPEndpointDelegate, @unchecked Sendable {   // state in `calls`
    private let media: MediaEngine
    private let settings: CallSettings
    private let logger: Logger
    private let calls = NIOLockedValueBox<[CallIdentifier: Call]>([:])
    private let activeGauge = Gauge(label: "hotline_calls_active")

    public init(media: MediaEngine, settings: CallSettings, logger: Logger) {
        self.media = media
        self.settings = settings
        self.logger = logger
    }

    public var activeCallCount: Int { calls.withLockedValue { $0.count } }
    public var activeCalls: [Call] { calls.withLockedValue { Array($0.values) } }

    private func count(_ outcome: String) {
        Counter(label: "hotline_calls_total", dimensions: [("outcome", outcome)]).increment()
    }

    // Called on the SIP loop.
    public func endpoint(_ endpoint: SIPEndpoint, incomingCall session: InviteServerSession) {
        guard let line = settings.lines[session.calledNumber] else {
            count("not-found")
            session.reject(statusCode: 404, reason: "Not Found")
            return
        }
        // RFC 3264: the INVITE carries the offer. Offerless INVITEs (offer in our 2xx, answer in
        // the ACK) are not supported yet.
        guard !session.request.body.isEmpty,
            let offer = try? SessionDescription.parse(String(decoding: session.request.body, as: UTF8.self))
        else {
            count("rejected")
            session.reject(statusCode: 488, reason: "Not Acceptable Here",
                           headers: [SIPHeader(name: "Warning", value: "399 hotline \"an SDP offer is required\"")])
            return
        }
        var rng = SystemRandomNumberGenerator()
        let sessionID = UInt64.random(in: 1...UInt64(Int64.max), using: &rng)
        let negotiated: NegotiatedAudio
        do {
            negotiated = try OfferAnswer.answer(
                offer: offer, localAddress: media.address, localPort: 0, sessionID: sessionID, sessionVersion: sessionID
            ).negotiated
        } catch {
            count("rejected")
            session.reject(statusCode: 488, reason: "Not Acceptable Here",
                           headers: [SIPHeader(name: "Warning", value: "304 hotline \"no common audio codec (PCMU, PCMA)\"")])
            return
        }

        let call = Call(id: .random(), sip: session, language: line.language, prompts: media.prompts, logger: logger)
        let flow = settings.flow
        session.setEventHandler { [weak call] event in
            call?.sipEvent(event) { call in
                do {
                    try await flow.run(call)
                } catch {
                    // The call ended under the script (caller hung up): nothing left to do.
                }
            }
        }
        calls.withLockedValue { $0[call.id] = call }
        activeGauge.record(activeCallCount)
        call.onEnd { [weak self] call in self?.callEnded(call) }

        logger.info(
            "incoming call",
            metadata: [
                "call": "\(call.id)", "from": "\(call.callerNumber)", "to": "\(call.calledNumber)",
                "sip-call-id": "\(session.callID)", "flow": "\(session.flow)", "codec": "\(negotiated.codec)",
            ])

        let remote = remoteAddress(negotiated)
        let parameters = RTPSessionParameters(
            law: negotiated.codec == .pcmu ? .ulaw : .alaw,
            payloadType: UInt8(negotiated.payloadType),
            telephoneEventPayloadType: negotiated.telephoneEventPayloadType.map { UInt8($0) },
            remote: remote,
            sends: negotiated.direction == .sendrecv || negotiated.direction == .sendonly,
            receives: negotiated.direction == .sendrecv || negotiated.direction == .recvonly,
            noMediaTimeout: settings.noMediaTimeout.map { .milliseconds($0.milliseconds) })
        let answerDelay = settings.answerDelay
        if answerDelay > .zero { session.ring() }

        media.openSession(parameters: parameters, onEvent: { [weak call] event in call?.mediaEvent(event) })
            .whenComplete { [logger] result in
                switch result {
                case .success(let rtp):
                    guard call.attach(rtp) else {   // cancelled while the port was being opened
                        rtp.close(cause: call.endCause ?? .callerHangup)
                        return
                    }
                    let answer: SessionDescription
                    do {
                        answer = try OfferAnswer.answer(
                            offer: offer, localAddress: self.media.address, localPort: rtp.localPort,
                            sessionID: sessionID, sessionVersion: sessionID
                        ).answer
                    } catch {
                        call.end(.signallingFailure)
                        return
                    }
                    let sdp = Array(answer.serialize().utf8)
                    if answerDelay > .zero {
                        rtp.eventLoop.scheduleTask(in: .milliseconds(answerDelay.milliseconds)) {
                            session.accept(sdp: sdp)
                            rtp.start()
                        }
                    } else {
                        session.accept(sdp: sdp)
                        rtp.start()
                    }
                case .failure(let error):
                    logger.error("no media for call", metadata: ["call": "\(call.id)", "error": "\(error)"])
                    session.reject(statusCode: 503, reason: "Service Unavailable", headers: [SIPHeader(name: "Retry-After", value: "5")])
                    call.end(.signallingFailure)
                }
            }
    }

    private func remoteAddress(_ negotiated: NegotiatedAudio) -> SocketAddress? {
        guard negotiated.remotePort > 0, negotiated.remoteAddress != "0.0.0.0", negotiated.remoteAddress != "::" else { return nil }
        return try? SocketAddress(ipAddress: negotiated.remoteAddress, port: negotiated.remotePort)
    }

    private func callEnded(_ call: Call) {
        calls.withLockedValue { _ = $0.removeValue(forKey: call.id) }
        activeGauge.record(activeCallCount)
        let cause = call.endCause ?? .normalClearing
        count(cause.rawValue)
        let (total, answered) = call.durations
        if let rtp = call.rtp {
            rtp.readStatistics().whenSuccess { [logger] stats in
                logger.info(
                    "call ended",
                    metadata: [
                        "call": "\(call.id)", "cause": "\(cause.rawValue)", "duration": "\(total)",
                        "answered": "\(answered.map { "\($0)" } ?? "-")",
                        "rtp-sent": "\(stats.packetsSent)", "rtp-received": "\(stats.packetsReceived)",
                        "rtp-dropped": "\(stats.malformedDropped + stats.foreignSourceDropped + stats.unknownPayloadTypeDropped)",
                        "digits": "\(stats.digitsReceived)",
                    ])
            }
        } else {
            logger.info("call ended", metadata: ["call": "\(call.id)", "cause": "\(cause.rawValue)", "duration": "\(total)"])
        }
    }

    /// Graceful shutdown: waits for live calls to end, up to `timeout`, then hangs up the rest.
    public func drain(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while activeCallCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let remaining = activeCalls
        if !remaining.isEmpty {
            logger.notice("drain timeout: hanging up calls", metadata: ["calls": "\(remaining.count)"])
        }
        // BYE every remaining call; wait briefly for the answers, not for a dead peer's
        // Timer F (32 s).
        for call in remaining {
            Task { await call.hangup(cause: .shutdown) }
        }
        let byeDeadline = ContinuousClock.now + .seconds(3)
        while activeCallCount > 0, ContinuousClock.now < byeDeadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
