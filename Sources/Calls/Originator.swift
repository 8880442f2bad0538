import Foundation
import HotlineCore
import Logging
import Media
import NIOConcurrencyHelpers
import NIOCore
import SDP
import SIPMessages
import SIPStack

/// Places outgoing calls (the UAC side of legs): to a registered account, ringing all its
/// reachable contacts at once (parallel forking; the first to answer wins, the others get
/// CANCEL), or to a number through the outbound trunk (with the trunk's digest credentials).
/// Media is anchored here: each leg gets an RTP session on our port before the INVITE goes out.
public final class Originator: Sendable {
    public enum Progress: Sendable {
        case ringing
    }

    private let endpoint: SIPEndpoint
    private let media: MediaEngine
    private let outboundTrunk: TrunkPeer?
    private let noMediaTimeout: TimeAmount?
    /// The codecs we offer, in our order of preference (`media.codecs`).
    private let codecs: [AudioCodec]
    private let logger: Logger

    public init(endpoint: SIPEndpoint, media: MediaEngine, outboundTrunk: TrunkPeer?, noMediaTimeout: Duration?,
                codecs: [AudioCodec] = [.pcmu, .pcma, .opus, .g722], logger: Logger) {
        self.endpoint = endpoint
        self.codecs = codecs
        self.media = media
        self.outboundTrunk = outboundTrunk
        self.noMediaTimeout = noMediaTimeout.map { .milliseconds($0.milliseconds) }
        self.logger = logger
    }

    /// Calls `to` (an account name, or a number for the trunk) presenting `from` as the caller.
    /// Returns the answered leg, its RTP session on `loop` (pass the other leg's loop to bridge
    /// them). Cancelling the task cancels the attempt (CANCEL on the wire). `preferring` puts
    /// the other leg's codec first in the offer, so that a callee able to use it needs no
    /// transcoding.
    public func originate(
        to: String, from: String, headers: [SIPHeader] = [], on loop: EventLoop? = nil, ringTimeout: Duration = .seconds(30),
        preferring preferred: AudioCodec? = nil, via trunkName: String? = nil,
        progress: @escaping @Sendable (Progress) -> Void = { _ in }
    ) async throws(OriginateError) -> Leg {
        var offered = codecs
        if let preferred, let i = offered.firstIndex(of: preferred) { offered.insert(offered.remove(at: i), at: 0) }
        var targets: [(uri: SIPURI, to: NameAddress, flow: SIPFlow, routes: [NameAddress], credentials: (String, String)?)] = []
        let fromAddress = NameAddress(uri: SIPURI(scheme: "sip", user: from, host: endpoint.configuration.address, port: endpoint.configuration.port))
        // A named trunk (a dialplan's `trunk:`) wins; else accounts, else the outbound trunk.
        let namedTrunk = trunkName.flatMap { endpoint.registrar?.trunk(named: $0) }
        if trunkName != nil, namedTrunk?.host == nil { throw .noRoute(to) }
        if namedTrunk == nil, let registrar = endpoint.registrar, registrar.isAccount(to) {
            let contacts = (try? await registrar.contacts(of: to).get()) ?? []
            let aor = NameAddress(uri: SIPURI(scheme: "sip", user: to, host: endpoint.configuration.address, port: endpoint.configuration.port))
            for contact in contacts where contact.reachable {
                targets.append((contact.uri, aor, contact.flow, [], nil))
            }
            if targets.isEmpty { throw .notRegistered(to) }
        } else if let trunk = namedTrunk ?? outboundTrunk, let host = trunk.host,
            let address = try? SocketAddress(ipAddress: host, port: trunk.port)
        {
            let uri = SIPURI(scheme: "sip", user: to, host: host, port: trunk.port)
            var flow = SIPFlow.datagram(remote: address)
            var routes: [NameAddress] = []
            if let proxy = trunk.outboundProxy {
                var route = proxy
                if route.parameter("lr") == nil { route.setParameter("lr", nil) }
                routes = [NameAddress(uri: route)]
                if let proxyAddress = try? SocketAddress(ipAddress: proxy.host, port: proxy.port ?? 5060) {
                    flow = .datagram(remote: proxyAddress)
                }
            }
            let credentials = trunk.username.flatMap { u in trunk.password.map { (u, $0) } }
            let presented = trunk.callerID ?? from
            targets.append((uri, NameAddress(uri: uri), flow, routes, credentials))
            return try await attempt(
                targets: targets, from: NameAddress(uri: SIPURI(scheme: "sip", user: presented, host: endpoint.configuration.address, port: endpoint.configuration.port)),
                party: to, headers: headers, loop: loop, ringTimeout: ringTimeout, codecs: offered, progress: progress)
        } else {
            throw .noRoute(to)
        }
        return try await attempt(
            targets: targets, from: fromAddress, party: to, headers: headers, loop: loop, ringTimeout: ringTimeout, codecs: offered,
            progress: progress)
    }

    private func attempt(
        targets: [(uri: SIPURI, to: NameAddress, flow: SIPFlow, routes: [NameAddress], credentials: (String, String)?)],
        from: NameAddress, party: String, headers: [SIPHeader], loop: EventLoop?, ringTimeout: Duration, codecs: [AudioCodec],
        progress: @escaping @Sendable (Progress) -> Void
    ) async throws(OriginateError) -> Leg {
        // One RTP session per fork: each callee gets its own offer; the losers' are closed.
        var rng = SystemRandomNumberGenerator()
        let fork = ForkState(count: targets.count)
        var sessions: [(InviteClientSession, RTPSession, UInt64)] = []
        let placeholder = RTPSessionParameters(codec: .pcmu, payloadType: 0, telephoneEventPayloadType: 101, remote: nil, noMediaTimeout: nil)
        for target in targets {
            let rtp: RTPSession
            do {
                rtp = try await media.openSession(parameters: placeholder, on: loop ?? sessions.first?.1.eventLoop) { _ in }.get()
            } catch {
                for (s, r, _) in sessions { s.cancel(); r.close(cause: .rejected) }
                throw .noMedia("\(error)")
            }
            let sessionID = UInt64.random(in: 1...UInt64(Int64.max), using: &rng)
            let offer = OfferAnswer.offer(localAddress: media.address, localPort: rtp.localPort, sessionID: sessionID, sessionVersion: sessionID,
                                          codecs: codecs)
            let call = OutgoingCall(
                requestURI: target.uri, to: target.to, from: from, flow: target.flow, routes: target.routes, headers: headers,
                sdpOffer: Array(offer.serialize().utf8), credentials: target.credentials.map { (username: $0.0, password: $0.1) })
            let session: InviteClientSession
            do {
                session = try await endpoint.makeCall(call).get()
            } catch {
                rtp.close(cause: .rejected)
                throw .noMedia("\(error)")
            }
            sessions.append((session, rtp, sessionID))
        }
        let forks = sessions
        let result: Result<Int, OriginateError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Int, OriginateError>, Never>) in
                fork.setContinuation(continuation)
                for (index, (session, _, _)) in forks.enumerated() {
                    session.eventLoop.execute {
                        session.setEventHandler { event in
                            switch event {
                            case .ringing, .earlyMedia:
                                if fork.markRinging() { progress(.ringing) }
                            case .answered:
                                if !fork.answered(index) { session.hangup() }
                            case .failed(let status, let reason):
                                fork.failed(index, .failed(status: status, reason: reason))
                            default:
                                break
                            }
                        }
                        session.start()
                    }
                }
                // No answer within the ring timeout: cancel every fork.
                forks.first?.0.eventLoop.scheduleTask(in: .milliseconds(ringTimeout.milliseconds)) {
                    if fork.timeout() { for (s, _, _) in forks { s.cancel() } }
                }
            }
        } onCancel: {
            if fork.cancel() { for (s, _, _) in forks { s.cancel() } }
        }
        switch result {
        case .success(let winner):
            for (index, (session, rtp, _)) in sessions.enumerated() where index != winner {
                session.cancel()
                rtp.close(cause: .cancelled)
            }
            let (session, rtp, sessionID) = sessions[winner]
            guard let answer = try? SessionDescription.parse(String(decoding: session.remoteSDP, as: UTF8.self)),
                let negotiated = try? OfferAnswer.negotiated(answer: answer, offered: codecs)
            else {
                session.hangup()
                rtp.close(cause: .signallingFailure)
                throw .failed(status: 488, reason: "Not Acceptable Here (no usable SDP answer)")
            }
            rtp.update(parameters: Leg.parameters(negotiated, noMediaTimeout: noMediaTimeout))
            rtp.start()
            logger.info("leg answered", metadata: ["party": "\(party)", "sip-call-id": "\(session.callID)", "codec": "\(negotiated.codec)"])
            return Leg(sip: session, rtp: rtp, party: party, localAddress: media.address, sessionID: sessionID, noMediaTimeout: noMediaTimeout)
        case .failure(let error):
            for (session, rtp, _) in sessions {
                session.cancel()
                rtp.close(cause: .rejected)
            }
            throw error
        }
    }
}

/// The outcome of a parallel fork (RFC 3261 §16.7 in miniature): the first 2xx wins; when
/// every branch failed, the best final status is reported (6xx over others, else the lowest).
final class ForkState: Sendable {
    private struct State {
        var remaining: Int
        var ringing = false
        var done = false
        var best: OriginateError?
        var continuation: CheckedContinuation<Result<Int, OriginateError>, Never>?
        var pending: Result<Int, OriginateError>?
    }
    private let state: NIOLockedValueBox<State>

    init(count: Int) { state = NIOLockedValueBox(State(remaining: count)) }

    func setContinuation(_ c: CheckedContinuation<Result<Int, OriginateError>, Never>) {
        let pending = state.withLockedValue { s -> Result<Int, OriginateError>? in
            if let p = s.pending { return p }
            s.continuation = c
            return nil
        }
        if let pending { c.resume(returning: pending) }
    }

    private func finish(_ result: Result<Int, OriginateError>) -> Bool {
        let c = state.withLockedValue { s -> CheckedContinuation<Result<Int, OriginateError>, Never>?? in
            guard !s.done else { return nil }
            s.done = true
            if let c = s.continuation {
                s.continuation = nil
                return .some(c)
            }
            s.pending = result
            return .some(nil)
        }
        guard let c else { return false }
        c?.resume(returning: result)
        return true
    }

    func markRinging() -> Bool {
        state.withLockedValue { s in
            guard !s.ringing, !s.done else { return false }
            s.ringing = true
            return true
        }
    }

    /// True when this branch won.
    func answered(_ index: Int) -> Bool { finish(.success(index)) }

    func failed(_ index: Int, _ error: OriginateError) {
        let outcome = state.withLockedValue { s -> OriginateError? in
            s.remaining -= 1
            if case .failed(let status, _) = error {
                if case .failed(let best, _)? = s.best {
                    if status >= 600 || (best < 600 && status < best && status != 487) { s.best = error }
                } else {
                    s.best = error
                }
            }
            return s.remaining == 0 ? s.best : nil
        }
        if let outcome { _ = finish(.failure(outcome)) }
    }

    func timeout() -> Bool { finish(.failure(.failed(status: 408, reason: "Request Timeout (no answer)"))) }
    func cancel() -> Bool { finish(.failure(.cancelled)) }
}
