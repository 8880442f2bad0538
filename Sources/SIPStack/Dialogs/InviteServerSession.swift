import Logging
import NIOCore
import SIPMessages

/// The UAS side of an INVITE session (RFC 3261 §13.3): answers the INVITE, retransmits its 2xx
/// until the ACK arrives (§13.3.1.4), takes CANCEL before the answer. In-dialog requests are
/// the base class's.
public final class InviteServerSession: InviteSession, @unchecked Sendable {
    public let request: SIPRequest
    private let entry: ServerInviteEntry
    private var answer: SIPResponse?
    private var retransmitTimer: Scheduled<Void>?
    private var retransmitInterval: TimeAmount = .zero
    private var ackDeadline: Scheduled<Void>?
    /// Who placed the call: a trunk, an authenticated account, or nobody we know.
    public internal(set) var caller: Registrar.CallerIdentity = .unauthenticated

    init(endpoint: SIPEndpoint, request: SIPRequest, entry: ServerInviteEntry, localTag: String) {
        self.request = request
        self.entry = entry
        super.init(endpoint: endpoint, callID: request.callID ?? "", localTag: localTag, flow: entry.flow)
        state = .proceeding
        remoteSDP = request.body
        peerAllows = Set(request.headers.values("Allow").map { $0.uppercased() })
    }

    /// The dialled number: the Request-URI's user part (the DID from a trunk).
    public var calledNumber: String { request.uri.user ?? "" }
    /// The caller's number: the From URI's user part.
    public var callerNumber: String { request.from?.uri.user ?? "" }
    override var contactUser: String? { calledNumber.isEmpty ? nil : calledNumber }

    // MARK: Operations for the call layer (any thread)

    public func ring() {
        endpoint.eventLoop.execute { [self] in
            guard case .proceeding = state, entry.machine.canSendFinalResponse else { return }
            var ringing = SIPResponse(to: request, statusCode: 180, toTag: localTag)
            addContact(&ringing)
            endpoint.addServerHeaders(&ringing)
            endpoint.performInviteActions(entry.machine.sendProvisional(ringing), entry: entry)
        }
    }

    /// Answers with 200 OK carrying the SDP answer. Ignored if the caller cancelled meanwhile.
    public func accept(sdp: [UInt8]) {
        endpoint.eventLoop.execute { [self] in
            guard case .proceeding = state, entry.machine.canSendFinalResponse,
                let established = Dialog.uas(request: request, localTag: localTag)
            else { return }
            var ok = SIPResponse(to: request, statusCode: 200, toTag: localTag)
            // §12.1.1: the 2xx copies the Record-Route headers.
            for rr in request.headers.values("Record-Route") { ok.headers.add("Record-Route", rr) }
            addContact(&ok)
            ok.headers.add("Allow", allowedMethods)
            ok.headers.add("Supported", "timer")
            ok.headers.add("Content-Type", "application/sdp")
            ok.body = sdp
            endpoint.addServerHeaders(&ok)
            dialog = established
            localSDP = sdp
            state = .accepted
            addSessionTimerHeaders(&ok, request: request)
            answer = ok
            endpoint.register(self)
            endpoint.performInviteActions(entry.machine.sendFinal(ok, statusCode: 200), entry: entry)
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

    override func hangupOnLoop() -> EventLoopFuture<Void> {
        if case .proceeding = state {
            state = .terminated
            endpoint.respond(entry, 480, reason: "Temporarily Unavailable", toTag: localTag)
            return endpoint.eventLoop.makeSucceededVoidFuture()
        }
        return super.hangupOnLoop()
    }

    // MARK: Inputs from the endpoint (on the loop)

    func receivedACK(_ ack: SIPRequest) {
        guard case .accepted = state else {
            receivedDialogACK(ack)   // a re-INVITE's ACK, or a retransmitted one (absorbed)
            return
        }
        stopRetransmittingAnswer()
        state = .confirmed
        if !ack.body.isEmpty { remoteSDP = ack.body }
        armSessionTimer()
        emit(.confirmed)
    }

    func receivedCANCEL() {
        guard case .proceeding = state else { return }   // too late: the call is answered (§9.2)
        state = .terminated
        endpoint.respond(entry, 487, reason: "Request Terminated", toTag: localTag)
        emit(.cancelled)
    }

    // MARK: Internals

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
            logger.notice("2xx never acknowledged; ending the call", metadata: ["call-id": "\(callID)"])
            sendBYE()
            emit(.ackTimeout)
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

    override func stopRetransmitting() {
        stopRetransmittingAnswer()
        super.stopRetransmitting()
    }
}
