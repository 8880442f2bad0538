import Logging
import NIOCore
import SIPMessages

/// The UAS side of an INVITE session and its dialog (RFC 3261 §12.1.1, §13.3, §15): answers
/// the INVITE, retransmits its 2xx until the ACK arrives (§13.3.1.4), takes BYE from the
/// caller and sends BYE for us.
///
/// Confined to the endpoint's event loop; the public operations hop there.
public final class InviteServerSession: @unchecked Sendable {
    public enum Event: Sendable, Equatable {
        /// The ACK for our 2xx arrived: media may start.
        case confirmed
        /// The caller cancelled before we answered (we sent 487).
        case cancelled
        /// The caller sent BYE.
        case remoteHangup
        /// Our 2xx was never acknowledged (64*T1); we sent BYE.
        case ackTimeout
        /// The transport failed under the dialog.
        case transportFailure
    }

    private enum State {
        case proceeding
        case accepted      // 2xx sent, waiting for ACK
        case confirmed
        case ending        // our BYE is in flight
        case terminated
    }

    public let request: SIPRequest
    public let flow: SIPFlow
    public let localTag: String
    public let callID: String
    public let remoteTag: String
    private unowned let endpoint: SIPEndpoint
    private let entry: ServerInviteEntry
    private var state: State = .proceeding
    private var eventHandler: (@Sendable (Event) -> Void)?

    /// §12.1.1: the caller's Contact is the remote target; Record-Route is the route set.
    private let remoteTarget: SIPURI?
    private let routeSet: [NameAddress]
    private var localSequence: UInt32 = 1
    private var answer: SIPResponse?
    private var retransmitTimer: Scheduled<Void>?
    private var retransmitInterval: TimeAmount = .zero
    private var ackDeadline: Scheduled<Void>?

    var dialogKey: DialogKey { DialogKey(callID: callID, localTag: localTag, remoteTag: remoteTag) }

    init(endpoint: SIPEndpoint, request: SIPRequest, entry: ServerInviteEntry, localTag: String) {
        self.endpoint = endpoint
        self.request = request
        self.entry = entry
        self.flow = entry.flow
        self.localTag = localTag
        self.callID = request.callID ?? ""
        self.remoteTag = request.from?.tag ?? ""
        self.remoteTarget = request.headers.values("Contact").first.flatMap { try? NameAddress.parse($0).uri }
        self.routeSet = request.headers.values("Record-Route").compactMap { try? NameAddress.parse($0) }
    }

    /// The dialled number: the Request-URI's user part (the DID from a trunk).
    public var calledNumber: String { request.uri.user ?? "" }
    /// The caller's number: the From URI's user part.
    public var callerNumber: String { request.from?.uri.user ?? "" }
    public var eventLoop: EventLoop { endpoint.eventLoop }

    /// Must be called before control returns from `endpoint(_:incomingCall:)`.
    public func setEventHandler(_ handler: @escaping @Sendable (Event) -> Void) {
        endpoint.eventLoop.assertInEventLoop()
        eventHandler = handler
    }

    // MARK: Operations for the call layer (any thread)

    public func ring() {
        endpoint.eventLoop.execute { [self] in
            guard case .proceeding = state, entry.machine.canSendFinalResponse else { return }
            var ringing = SIPResponse(to: request, statusCode: 180, toTag: localTag)
            addContact(&ringing)
            endpoint.addServerHeaders(&ringing)
            sendProvisional(ringing)
        }
    }

    /// Answers with 200 OK carrying the SDP answer. Ignored if the caller cancelled meanwhile.
    public func accept(sdp: [UInt8]) {
        endpoint.eventLoop.execute { [self] in
            guard case .proceeding = state, entry.machine.canSendFinalResponse else { return }
            var ok = SIPResponse(to: request, statusCode: 200, toTag: localTag)
            // §12.1.1: the 2xx copies the Record-Route headers.
            for rr in request.headers.values("Record-Route") { ok.headers.add("Record-Route", rr) }
            addContact(&ok)
            ok.headers.add("Allow", allowedMethods)
            ok.headers.add("Content-Type", "application/sdp")
            ok.body = sdp
            endpoint.addServerHeaders(&ok)
            answer = ok
            state = .accepted
            endpoint.register(self)
            let actions = entry.machine.sendFinal(ok, statusCode: 200)
            performInvite(actions)
            startRetransmittingAnswer()
        }
    }

    /// Refuses the call with a final response (e.g. 404, 486, 488, 503).
    public func reject(statusCode: Int, reason: String? = nil, headers: [SIPHeader] = []) {
        endpoint.eventLoop.execute { [self] in
            guard case .proceeding = state else { return }
            state = .terminated
            endpoint.respond(entry, statusCode, reason: reason, headers: headers, toTag: localTag)
        }
    }

    /// Ends the call from our side: BYE once answered (§15.1.1), 480 before. The future
    /// completes when the BYE transaction ends (answered, timed out or failed).
    @discardableResult
    public func hangup() -> EventLoopFuture<Void> {
        endpoint.eventLoop.flatSubmit { [self] in
            switch state {
            case .proceeding:
                state = .terminated
                endpoint.respond(entry, 480, reason: "Temporarily Unavailable", toTag: localTag)
                return endpoint.eventLoop.makeSucceededVoidFuture()
            case .accepted, .confirmed:
                return sendBYE()
            case .ending, .terminated:
                return endpoint.eventLoop.makeSucceededVoidFuture()
            }
        }
    }

    // MARK: Inputs from the endpoint (on the loop)

    func receivedACK(_ ack: SIPRequest) {
        guard case .accepted = state else { return }   // retransmitted ACKs are absorbed
        stopRetransmittingAnswer()
        state = .confirmed
        eventHandler?(.confirmed)
    }

    func receivedCANCEL() {
        guard case .proceeding = state else { return }   // too late: the call is answered (§9.2)
        state = .terminated
        endpoint.respond(entry, 487, reason: "Request Terminated", toTag: localTag)
        eventHandler?(.cancelled)
    }

    func receivedBYE(_ bye: SIPRequest, entry byeEntry: ServerNonInviteEntry) {
        endpoint.respond(byeEntry, 200, toTag: localTag)
        switch state {
        case .accepted, .confirmed:
            terminate()
            eventHandler?(.remoteHangup)
        case .ending:
            terminate()   // BYEs crossed: ours is answered or times out by itself
        case .proceeding, .terminated:
            break
        }
    }

    func receivedReINVITE(_ reinvite: SIPRequest, entry reEntry: ServerInviteEntry) {
        guard let answer, case .confirmed = state else {
            // §14.2: a re-INVITE while our own INVITE transaction is still open.
            endpoint.respond(reEntry, 500, reason: "Server Internal Error", headers: [SIPHeader(name: "Retry-After", value: "1")])
            return
        }
        var ok = SIPResponse(to: reinvite, statusCode: 200, toTag: localTag)
        addContact(&ok)
        ok.headers.add("Allow", allowedMethods)
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = answer.body
        endpoint.addServerHeaders(&ok)
        endpoint.respond2xx(reEntry, ok)
    }

    func transportFailed() {
        switch state {
        case .terminated: return
        default:
            terminate()
            eventHandler?(.transportFailure)
        }
    }

    // MARK: Internals

    private func addContact(_ response: inout SIPResponse) {
        let config = endpoint.configuration
        var uri = SIPURI(scheme: "sip", user: calledNumber.isEmpty ? nil : calledNumber, host: config.address, port: config.port)
        if case .stream(_, let t) = flow { uri.parameters.append(URIParameter(name: "transport", value: t.rawValue.lowercased())) }
        response.headers.set("Contact", "<\(uri.description)>")
    }

    private func sendProvisional(_ response: SIPResponse) {
        performInvite(entry.machine.sendProvisional(response))
    }

    private func performInvite(_ actions: [ServerInviteTransaction<SIPResponse>.Action]) {
        endpoint.performInviteActions(actions, entry: entry)
    }

    /// §13.3.1.4: the UAS core retransmits the 2xx at T1, doubling up to T2, until the ACK;
    /// after 64*T1 it gives up and ends the dialog with BYE. Reliable transports need no
    /// retransmission but keep the deadline.
    private func startRetransmittingAnswer() {
        let timers = endpoint.configuration.timers
        if !flow.isReliable {
            retransmitInterval = TimeAmount(timers.t1)
            scheduleRetransmit()
        }
        ackDeadline = endpoint.eventLoop.scheduleTask(in: TimeAmount(timers.transactionTimeout)) { [self] in
            guard case .accepted = state else { return }
            stopRetransmittingAnswer()
            endpoint.logger.notice("2xx never acknowledged; ending the call", metadata: ["call-id": "\(callID)"])
            sendBYE()
            eventHandler?(.ackTimeout)
        }
    }

    private func scheduleRetransmit() {
        retransmitTimer = endpoint.eventLoop.scheduleTask(in: retransmitInterval) { [self] in
            guard case .accepted = state, let answer else { return }
            endpoint.sendResponse(answer, flow: flow)
            retransmitInterval = min(retransmitInterval * 2, TimeAmount(endpoint.configuration.timers.t2))
            scheduleRetransmit()
        }
    }

    private func stopRetransmittingAnswer() {
        retransmitTimer?.cancel()
        retransmitTimer = nil
        ackDeadline?.cancel()
        ackDeadline = nil
    }

    @discardableResult
    private func sendBYE() -> EventLoopFuture<Void> {
        stopRetransmittingAnswer()
        state = .ending
        localSequence += 1
        var bye = SIPRequest(method: .bye, uri: remoteTarget ?? request.from?.uri ?? request.uri, headers: SIPHeaders(), body: [])
        bye.headers.add("Max-Forwards", "70")
        for route in routeSet { bye.headers.add("Route", route.description) }
        if var to = request.to {   // our side of the dialog: the INVITE's To, with our tag
            to.tag = localTag
            bye.headers.add("From", to.description)
        }
        if let from = request.from { bye.headers.add("To", from.description) }
        bye.headers.add("Call-ID", callID)
        bye.headers.add("CSeq", CSeq(sequence: localSequence, method: .bye).description)
        bye.headers.add("User-Agent", endpoint.configuration.userAgent)
        let promise = endpoint.eventLoop.makePromise(of: Void.self)
        endpoint.sendRequest(bye, flow: inDialogFlow()) { [self] result in
            if case .timeout = result {
                endpoint.logger.notice("BYE timed out", metadata: ["call-id": "\(callID)"])
            }
            terminate()
            promise.succeed(())
        }
        return promise.futureResult
    }

    /// Where in-dialog requests go: back on the caller's stream connection, or over UDP to the
    /// first loose route or the remote target (when they are IP literals; DNS is RFC 3263's
    /// business and not done here), else to the address the INVITE came from.
    private func inDialogFlow() -> SIPFlow {
        if case .stream = flow { return flow }
        if let uri = routeSet.first?.uri ?? remoteTarget,
            let address = try? SocketAddress(ipAddress: uri.host, port: uri.port ?? 5060)
        {
            return .datagram(remote: address)
        }
        return flow
    }

    private func terminate() {
        stopRetransmittingAnswer()
        state = .terminated
        endpoint.unregister(self)
    }
}
