import Logging
import NIOCore
import SIPMessages

/// Who we call and how: the parts of an outgoing INVITE the call layer chooses.
public struct OutgoingCall: Sendable {
    /// The Request-URI (the callee's registered contact, or `sip:DID@trunk`).
    public var requestURI: SIPURI
    /// The To header (the address of record); defaults to the Request-URI.
    public var to: NameAddress
    /// The From header (without tag): the caller we present.
    public var from: NameAddress
    /// Where to send it: the contact's flow (e.g. its TCP connection) or the trunk's address.
    public var flow: SIPFlow
    /// A route set to preload (e.g. the trunk's outbound proxy, RFC 3261 §8.1.2).
    public var routes: [NameAddress]
    public var headers: [SIPHeader]
    public var sdpOffer: [UInt8]
    /// Credentials for a 401/407 challenge from the far end (a carrier trunk).
    public var credentials: (username: String, password: String)?

    public init(
        requestURI: SIPURI, to: NameAddress? = nil, from: NameAddress, flow: SIPFlow, routes: [NameAddress] = [],
        headers: [SIPHeader] = [], sdpOffer: [UInt8], credentials: (username: String, password: String)? = nil
    ) {
        self.requestURI = requestURI
        self.to = to ?? NameAddress(uri: requestURI)
        self.from = from
        self.flow = flow
        self.routes = routes
        self.headers = headers
        self.sdpOffer = sdpOffer
        self.credentials = credentials
    }
}

/// The UAC side of an INVITE session (RFC 3261 §13.2): sends the INVITE, reports provisional
/// responses and early media, ACKs every 2xx (§13.2.2.4), answers one digest challenge per
/// nonce (§22.2), CANCELs (§9.1, only after a provisional response), and BYEs a 2xx that
/// arrives after our CANCEL or from a second fork.
public final class InviteClientSession: InviteSession, @unchecked Sendable {
    private var call: OutgoingCall
    private var invite: SIPRequest
    private var sequence: UInt32 = 1
    private var transaction: ClientInviteEntry?
    private var provisionalSeen = false
    private var cancelRequested = false
    private var cancelDeadline: Scheduled<Void>?
    private var ack: SIPRequest?
    private var digest: DigestClient?
    private var answeredChallenges: Set<String> = []
    private var retriedForMinSE = false
    /// The final status once the INVITE transaction ended without a dialog.
    public private(set) var finalStatus: Int?

    init(endpoint: SIPEndpoint, call: OutgoingCall) {
        self.call = call
        let callID = randomToken() + randomToken() + "@" + endpoint.configuration.address
        var from = call.from
        let tag = randomToken()
        from.setTag(tag)
        self.call.from = from
        var request = SIPRequest(method: .invite, uri: call.requestURI)
        self.invite = request
        super.init(endpoint: endpoint, callID: callID, localTag: tag, flow: call.flow)
        request.headers.add("Max-Forwards", "70")
        for route in call.routes { request.headers.add("Route", route.description) }
        request.headers.add("From", from.description)
        request.headers.add("To", call.to.description)
        request.headers.add("Call-ID", callID)
        request.headers.add("CSeq", CSeq(sequence: 1, method: .invite).description)
        request.headers.add("Allow", allowedMethods)
        request.headers.add("Supported", "timer")
        let timers = endpoint.configuration.sessionTimers
        if timers.enabled {
            request.headers.add("Session-Expires", "\(timers.sessionExpires)")
            request.headers.add("Min-SE", "\(timers.minSE)")
        }
        request.headers.add("User-Agent", endpoint.configuration.userAgent)
        for h in call.headers { request.headers.add(h.name, h.value) }
        if !call.sdpOffer.isEmpty { request.headers.add("Content-Type", "application/sdp") }
        request.body = call.sdpOffer
        self.invite = request
        addContact(&self.invite)
        localSDP = call.sdpOffer
        if let c = call.credentials { digest = DigestClient(username: c.username, password: c.password) }
    }

    override var ownsCallID: Bool { true }
    override var contactUser: String? { call.from.uri.user }
    public var requestURI: SIPURI { call.requestURI }

    /// Sends the INVITE. Set the event handler first.
    public func start() {
        endpoint.eventLoop.execute { [self] in
            guard state == .initial else { return }
            state = .proceeding
            send(invite)
        }
    }

    /// Gives up on the call: CANCEL while it rings (§9.1), BYE once answered.
    public func cancel() {
        endpoint.eventLoop.execute { [self] in _ = hangupOnLoop() }
    }

    override func hangupOnLoop() -> EventLoopFuture<Void> {
        switch state {
        case .initial:
            state = .terminated
            return endpoint.eventLoop.makeSucceededVoidFuture()
        case .proceeding:
            guard !cancelRequested else { return endpoint.eventLoop.makeSucceededVoidFuture() }
            cancelRequested = true
            // §9.1: no CANCEL before a provisional response; it goes out when one arrives.
            if provisionalSeen { sendCANCEL() }
            // If nothing final comes 64*T1 after the CANCEL, the transaction is abandoned.
            cancelDeadline = endpoint.eventLoop.scheduleTask(in: TimeAmount(endpoint.configuration.timers.transactionTimeout)) { [self] in
                guard state == .proceeding else { return }
                transaction.map { endpoint.abandon($0) }
                fail(487, "Request Terminated")
            }
            return endpoint.eventLoop.makeSucceededVoidFuture()
        default:
            return super.hangupOnLoop()
        }
    }

    // MARK: Internals (on the loop)

    private func send(_ request: SIPRequest) {
        transaction = endpoint.sendInvite(request, flow: flow) { [self] event in
            switch event {
            case .provisional(let r): receivedProvisional(r)
            case .success(let r): received2xx(r)
            case .failure(let status, let response): receivedFailure(status, response)
            }
        }
    }

    private func sendCANCEL() {
        guard let transaction else { return }
        endpoint.cancel(transaction)
    }

    private func receivedProvisional(_ response: SIPResponse) {
        guard state == .proceeding else { return }
        if !provisionalSeen {
            provisionalSeen = true
            if cancelRequested { sendCANCEL() }
        }
        guard response.statusCode > 100 else { return }
        if !response.body.isEmpty {
            remoteSDP = response.body
            emit(.earlyMedia)
        } else {
            emit(.ringing)
        }
    }

    private func received2xx(_ response: SIPResponse) {
        // §13.2.2.4: ACK every 2xx, retransmissions included.
        if let established = dialog, response.to?.tag == established.remoteTag, let ack {
            endpoint.sendStateless(ack, flow: inDialogFlow())
            return
        }
        guard var created = Dialog.uac(request: invite, response: response) else { return }
        created.localSequence = sequence
        if dialog != nil || state != .proceeding {
            // A second fork's 2xx, or one after we gave up: ACK it and end that dialog at once.
            let stray = InviteSession(endpoint: endpoint, callID: callID, localTag: localTag, flow: flow)
            stray.dialog = created
            stray.state = .confirmed
            var strayACK = created.makeRequest(.ack, sequence: sequence)
            strayACK.headers.add("User-Agent", endpoint.configuration.userAgent)
            endpoint.sendStateless(strayACK, flow: stray.inDialogFlow())
            stray.sendBYE()
            return
        }
        dialog = created
        var ack = created.makeRequest(.ack, sequence: sequence)
        ack.headers.add("User-Agent", endpoint.configuration.userAgent)
        if let auth = invite.headers["Authorization"] { ack.headers.add("Authorization", auth) }
        if let auth = invite.headers["Proxy-Authorization"] { ack.headers.add("Proxy-Authorization", auth) }
        self.ack = ack
        endpoint.sendStateless(ack, flow: inDialogFlow())
        state = .confirmed
        cancelDeadline?.cancel()
        remoteSDP = response.body
        peerAllows = Set(response.headers.values("Allow").map { $0.uppercased() })
        endpoint.register(self)
        if cancelRequested {
            // §15: the callee answered as our CANCEL crossed it; end the call properly.
            sendBYE()
            emit(.failed(status: 487, reason: "Request Terminated"))
            return
        }
        readSessionTimer(from: response)
        emit(.answered)
    }

    private func receivedFailure(_ status: Int, _ response: SIPResponse?) {
        guard state == .proceeding else { return }
        if let response, !cancelRequested, retryWithCredentials(status, response) { return }
        if let response, status == 422, !retriedForMinSE, !cancelRequested,
            let minSE = response.headers["Min-SE"].flatMap({ Int($0.split(separator: ";").first ?? "") })
        {
            // RFC 4028 §7.4: retry with the peer's Min-SE.
            retriedForMinSE = true
            resend { request in
                request.headers.set("Session-Expires", "\(minSE)")
                request.headers.set("Min-SE", "\(minSE)")
            }
            return
        }
        fail(status, response?.reason ?? SIPResponse.reasonPhrase(for: status))
    }

    /// §22.2 / RFC 7616: answer a 401/407 once per nonce with our credentials.
    private func retryWithCredentials(_ status: Int, _ response: SIPResponse) -> Bool {
        guard status == 401 || status == 407, var client = digest else { return false }
        let header = status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate"
        guard let challenge = DigestChallenge.preferred(among: response.headers.values(header), header: header),
            !answeredChallenges.contains(challenge.nonce) || challenge.stale
        else { return false }
        answeredChallenges.insert(challenge.nonce)
        guard let credentials = client.authorization(for: challenge, method: "INVITE", uri: invite.uri.description) else { return false }
        digest = client
        resend { request in
            request.headers.set(status == 401 ? "Authorization" : "Proxy-Authorization", credentials.description)
        }
        return true
    }

    /// A new INVITE in the same call (§8.1.3.5): same Call-ID and From tag, next CSeq, new branch.
    private func resend(_ change: (inout SIPRequest) -> Void) {
        sequence += 1
        invite.headers.set("CSeq", CSeq(sequence: sequence, method: .invite).description)
        change(&invite)
        provisionalSeen = false
        send(invite)
    }

    private func fail(_ status: Int, _ reason: String) {
        guard state == .proceeding || state == .initial else { return }
        cancelDeadline?.cancel()
        finalStatus = status
        state = .terminated
        emit(.failed(status: status, reason: reason))
    }
}
