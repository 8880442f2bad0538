import Logging
import NIOCore
import SIPMessages

/// What an INVITE session tells the call layer. Delivered on the endpoint's event loop.
public enum InviteSessionEvent: Sendable, Equatable {
    /// UAC: the callee rings (180, or 183 without SDP).
    case ringing
    /// UAC: a provisional response carried SDP (`remoteSDP`): early media.
    case earlyMedia
    /// UAC: the callee answered; our ACK is sent and `remoteSDP` holds the answer.
    case answered
    /// UAS: the ACK for our 2xx arrived: media may start.
    case confirmed
    /// UAS: the caller cancelled before we answered (we sent 487).
    case cancelled
    /// UAC: the call failed with a final response (408 on timeout, 503 on transport failure).
    case failed(status: Int, reason: String)
    /// The peer sent BYE.
    case remoteHangup
    /// UAS: our 2xx was never acknowledged (64*T1); we sent BYE.
    case ackTimeout
    /// The transport failed under the dialog.
    case transportFailure
    /// RFC 4028: the session was not refreshed in time; we sent BYE.
    case sessionExpired
    /// A re-INVITE or UPDATE from the peer changed the session (new `remoteSDP`, e.g. hold).
    case remoteModified
    /// A key sent with INFO (`application/dtmf-relay` or `application/dtmf`).
    case infoDigit(Character)
    /// RFC 3515: the peer asks us to call `target` (blind transfer). We answered 202; report
    /// progress with `notifyReferProgress(statusCode:)`.
    case referred(target: String, referredBy: String?)
    /// RFC 3515: a NOTIFY about the REFER we sent (`message/sipfrag` status line).
    case referProgress(statusCode: Int)
}

/// RFC 4028 session-timer parameters agreed for a dialog.
struct SessionTimer: Sendable, Equatable {
    var interval: Int
    /// True when we send the refreshes; false when we only watch for the peer's.
    var weRefresh: Bool
}

/// An INVITE-usage of a dialog (RFC 3261 §12–15, RFC 5057), either side: the in-dialog
/// requests both roles share live here (BYE, re-INVITE and UPDATE for hold, codec and address
/// changes and RFC 4028 refreshes, INFO keys, REFER/NOTIFY for transfers, glare). The UAS and
/// UAC subclasses add how the dialog comes to be.
///
/// Confined to the endpoint's event loop; the public operations hop there.
public class InviteSession: @unchecked Sendable {
    enum State: Equatable {
        case initial       // UAC: not sent yet
        case proceeding    // INVITE in progress, no final response
        case accepted      // UAS: 2xx sent, waiting for the ACK
        case confirmed
        case ending        // our BYE is in flight
        case terminated
    }

    unowned let endpoint: SIPEndpoint
    public let callID: String
    public let localTag: String
    public internal(set) var flow: SIPFlow
    var state: State = .initial
    var dialog: Dialog?
    var eventHandler: (@Sendable (InviteSessionEvent) -> Void)?
    var offerHandler: (@Sendable ([UInt8]) -> [UInt8]?)?

    /// Our current SDP (offer or answer) and the peer's.
    public internal(set) var localSDP: [UInt8] = []
    public internal(set) var remoteSDP: [UInt8] = []
    /// Methods the peer allows (its Allow header), for choosing UPDATE over re-INVITE.
    var peerAllows: Set<String> = []

    // In-dialog INVITE transactions in flight, for glare (§14.1, §14.2).
    var outgoingReINVITE = false
    var incomingReINVITE: ServerInviteEntry?
    var incomingReINVITEAnswer: SIPResponse?
    private var reinviteRetransmit: Scheduled<Void>?

    var sessionTimer: SessionTimer?
    private var sessionTimerTask: Scheduled<Void>?
    /// An accepted REFER's subscription (RFC 3515 §2.4.4): the CSeq of the REFER names it.
    private var referSubscriptionID: UInt32?

    init(endpoint: SIPEndpoint, callID: String, localTag: String, flow: SIPFlow) {
        self.endpoint = endpoint
        self.callID = callID
        self.localTag = localTag
        self.flow = flow
    }

    public var eventLoop: EventLoop { endpoint.eventLoop }
    var logger: Logger { endpoint.logger }
    var dialogKey: DialogKey? { dialog?.key }
    /// The peer's tag once a dialog exists.
    public var remoteTag: String { dialog?.remoteTag ?? "" }
    public var isEstablished: Bool { state == .confirmed || state == .accepted }

    /// Must be set before control returns to the endpoint (UAS) or before `start()` (UAC).
    public func setEventHandler(_ handler: @escaping @Sendable (InviteSessionEvent) -> Void) {
        if endpoint.eventLoop.inEventLoop {
            eventHandler = handler
        } else {
            endpoint.eventLoop.execute { self.eventHandler = handler }
        }
    }

    /// Answers the peer's new offers (re-INVITE, UPDATE): returns our SDP answer, or nil to
    /// refuse with 488. Without a handler the current local SDP is returned unchanged.
    /// Called synchronously on the endpoint's loop.
    public func setOfferHandler(_ handler: @escaping @Sendable ([UInt8]) -> [UInt8]?) {
        endpoint.eventLoop.execute { self.offerHandler = handler }
    }

    func emit(_ event: InviteSessionEvent) { eventHandler?(event) }

    // MARK: Operations for the call layer (any thread)

    /// Ends the call: BYE once a dialog is confirmed (§15.1.1); subclasses handle the early
    /// states (480 for the UAS, CANCEL for the UAC). Completes when the BYE transaction ends.
    @discardableResult
    public func hangup() -> EventLoopFuture<Void> {
        endpoint.eventLoop.flatSubmit { [self] in hangupOnLoop() }
    }

    func hangupOnLoop() -> EventLoopFuture<Void> {
        switch state {
        case .accepted, .confirmed: return sendBYE()
        case .initial, .proceeding, .ending, .terminated: return endpoint.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// Sends a re-INVITE with `sdp` (hold, resume, codec or address change, §14.1). The future
    /// gives the peer's SDP answer, or nil when it refused (the session stays as it was).
    public func reinvite(sdp: [UInt8]) -> EventLoopFuture<[UInt8]?> {
        endpoint.eventLoop.flatSubmit { [self] in sendReINVITE(sdp: sdp, retryOnGlare: 2) }
    }

    /// RFC 3515: asks the peer to call `target` (blind transfer away from us). The future gives
    /// the REFER's final status; `referProgress` events follow from the peer's NOTIFYs.
    public func refer(to target: String) -> EventLoopFuture<Int> {
        endpoint.eventLoop.flatSubmit { [self] in
            guard state == .confirmed, dialog != nil else { return endpoint.eventLoop.makeSucceededFuture(481) }
            var request = makeInDialogRequest(.refer)
            request.headers.add("Refer-To", "<\(target)>")
            request.headers.add("Referred-By", "<\(dialog!.local.uri.description)>")
            let promise = endpoint.eventLoop.makePromise(of: Int.self)
            endpoint.sendRequest(request, flow: inDialogFlow()) { result in
                switch result {
                case .response(let r): promise.succeed(r.statusCode)
                case .timeout: promise.succeed(408)
                case .transportError: promise.succeed(503)
                }
            }
            return promise.futureResult
        }
    }

    /// RFC 3515 §2.4.4: reports how the call we were asked to make is going, as a NOTIFY with
    /// a `message/sipfrag` status line; a final status (>= 200) ends the implicit subscription.
    /// The returned future completes when the NOTIFY got its response, or after `wait`,
    /// whichever comes first (so that a BYE sent next cannot overtake it through a proxy).
    @discardableResult
    public func notifyReferProgress(statusCode: Int, reason: String? = nil, wait: TimeAmount = .seconds(2)) -> EventLoopFuture<Void> {
        let done = endpoint.eventLoop.makePromise(of: Void.self)
        endpoint.eventLoop.execute { [self] in
            guard let id = referSubscriptionID, dialog != nil, state == .confirmed else {
                done.succeed(())
                return
            }
            let final = statusCode >= 200
            if final { referSubscriptionID = nil }
            var request = makeInDialogRequest(.notify)
            request.headers.add("Event", "refer;id=\(id)")
            request.headers.add("Subscription-State", final ? "terminated;reason=noresource" : "active;expires=60")
            request.headers.add("Content-Type", "message/sipfrag;version=2.0")
            request.body = Array("SIP/2.0 \(statusCode) \(reason ?? SIPResponse.reasonPhrase(for: statusCode))\r\n".utf8)
            // Both completions run on this loop: the first one wins.
            let completed = NIOLoopBoundBox(false, eventLoop: endpoint.eventLoop)
            let timeout = endpoint.eventLoop.scheduleTask(in: wait) {
                if !completed.value { completed.value = true; done.succeed(()) }
            }
            endpoint.sendRequest(request, flow: inDialogFlow()) { _ in
                timeout.cancel()
                if !completed.value { completed.value = true; done.succeed(()) }
            }
        }
        return done.futureResult
    }

    /// Sends INFO keys (`application/dtmf-relay`, the format SIP phones and PBXes use).
    public func sendInfoDigit(_ digit: Character, durationMs: Int = 160) {
        endpoint.eventLoop.execute { [self] in
            guard state == .confirmed, dialog != nil else { return }
            var request = makeInDialogRequest(.info)
            request.headers.add("Content-Type", "application/dtmf-relay")
            request.body = Array("Signal=\(digit)\r\nDuration=\(durationMs)\r\n".utf8)
            endpoint.sendRequest(request, flow: inDialogFlow()) { _ in }
        }
    }

    // MARK: Requests inside the dialog (on the loop)

    /// Non-INVITE requests with our dialog's tags (the endpoint matched them).
    func receivedInDialog(_ request: SIPRequest, entry: ServerNonInviteEntry) {
        guard var d = dialog else {
            endpoint.respond(entry, 481, reason: "Call/Transaction Does Not Exist")
            return
        }
        if let cseq = request.cseq, !d.acceptRemoteSequence(cseq.sequence, method: request.method) {
            endpoint.respond(entry, 500, reason: "Server Internal Error (CSeq out of order)")
            return
        }
        dialog = d
        switch request.method {
        case .bye:
            endpoint.respond(entry, 200)
            switch state {
            case .accepted, .confirmed:
                terminate()
                emit(.remoteHangup)
            case .ending:
                terminate()   // BYEs crossed: ours is answered or times out by itself
            case .initial, .proceeding, .terminated:
                break
            }
        case .update:
            receivedUPDATE(request, entry: entry)
        case .info:
            receivedINFO(request, entry: entry)
        case .refer:
            receivedREFER(request, entry: entry)
        case .notify:
            endpoint.respond(entry, 200)
            if (request.headers["Event"] ?? "").lowercased().hasPrefix("refer"),
                let status = sipfragStatus(request.body)
            {
                emit(.referProgress(statusCode: status))
            }
        case .options:
            endpoint.respond(entry, 200, headers: [SIPHeader(name: "Allow", value: allowedMethods)])
        default:
            endpoint.respond(entry, 405, headers: [SIPHeader(name: "Allow", value: allowedMethods)])
        }
    }

    /// §14.2: a re-INVITE. Glare (our own re-INVITE is pending) gets 491; an offer goes to the
    /// offer handler; an offerless re-INVITE (a refresh) gets our current SDP as the offer in
    /// the 2xx, and the ACK's answer is taken as it comes.
    func receivedReINVITE(_ request: SIPRequest, entry: ServerInviteEntry) {
        guard var d = dialog, state == .confirmed else {
            endpoint.respond(entry, 500, reason: "Server Internal Error", headers: [SIPHeader(name: "Retry-After", value: "1")])
            return
        }
        if let cseq = request.cseq, !d.acceptRemoteSequence(cseq.sequence, method: .invite) {
            endpoint.respond(entry, 500, reason: "Server Internal Error (CSeq out of order)")
            return
        }
        dialog = d
        if outgoingReINVITE {
            endpoint.respond(entry, 491, reason: "Request Pending")
            return
        }
        if incomingReINVITE != nil {
            endpoint.respond(entry, 500, reason: "Server Internal Error", headers: [SIPHeader(name: "Retry-After", value: "1")])
            return
        }
        // §12.2.2: a target refresh request updates the remote target.
        if let contact = request.headers.values("Contact").first, let uri = try? NameAddress.parse(contact).uri {
            dialog?.remoteTarget = uri
        }
        var answer = localSDP
        if !request.body.isEmpty {
            guard let produced = offerHandler.map({ $0(request.body) }) ?? localSDP, !produced.isEmpty else {
                endpoint.respond(entry, 488, reason: "Not Acceptable Here")
                return
            }
            remoteSDP = request.body
            answer = produced
            localSDP = produced
        }
        var ok = SIPResponse(to: request, statusCode: 200, toTag: localTag)
        addContact(&ok)
        ok.headers.add("Allow", allowedMethods)
        addSessionTimerHeaders(&ok, request: request)
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = answer
        endpoint.addServerHeaders(&ok)
        incomingReINVITE = entry
        incomingReINVITEAnswer = ok
        endpoint.respond2xx(entry, ok)
        retransmitReINVITEAnswer(interval: TimeAmount(endpoint.configuration.timers.t1), elapsed: .zero)
        if !request.body.isEmpty { emit(.remoteModified) }
    }

    /// §13.3.1.4 for re-INVITEs: our 2xx is retransmitted until the ACK.
    private func retransmitReINVITEAnswer(interval: TimeAmount, elapsed: TimeAmount) {
        guard !flow.isReliable else { return }
        reinviteRetransmit = endpoint.eventLoop.scheduleTask(in: interval) { [self] in
            guard let ok = incomingReINVITEAnswer, incomingReINVITE != nil else { return }
            let total = elapsed + interval
            if total >= TimeAmount(endpoint.configuration.timers.transactionTimeout) {
                incomingReINVITE = nil
                incomingReINVITEAnswer = nil
                return
            }
            endpoint.sendResponse(ok, flow: flow)
            retransmitReINVITEAnswer(interval: min(interval * 2, TimeAmount(endpoint.configuration.timers.t2)), elapsed: total)
        }
    }

    /// The ACK of a 2xx to a re-INVITE (or, in the subclass, to the initial INVITE).
    func receivedDialogACK(_ ack: SIPRequest) {
        if incomingReINVITE != nil {
            reinviteRetransmit?.cancel()
            incomingReINVITE = nil
            incomingReINVITEAnswer = nil
            return
        }
    }

    private func receivedUPDATE(_ request: SIPRequest, entry: ServerNonInviteEntry) {
        var headers: [SIPHeader] = [SIPHeader(name: "Allow", value: allowedMethods)]
        var body: [UInt8] = []
        if !request.body.isEmpty {
            if outgoingReINVITE {
                endpoint.respond(entry, 491, reason: "Request Pending")
                return
            }
            guard let produced = offerHandler.map({ $0(request.body) }) ?? localSDP, !produced.isEmpty else {
                endpoint.respond(entry, 488, reason: "Not Acceptable Here")
                return
            }
            remoteSDP = request.body
            localSDP = produced
            body = produced
            headers.append(SIPHeader(name: "Content-Type", value: "application/sdp"))
        }
        headers += sessionTimerHeaders(for: request)
        endpoint.respond(entry, 200, headers: headers, toTag: nil, body: body)
        if !request.body.isEmpty { emit(.remoteModified) }
    }

    private func receivedINFO(_ request: SIPRequest, entry: ServerNonInviteEntry) {
        let type = (request.contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch type {
        case "":
            endpoint.respond(entry, 200)   // an empty INFO: a keep-alive probe
        case "application/dtmf-relay", "application/dtmf":
            guard let digit = InfoDTMF.parse(request.body, contentType: type) else {
                endpoint.respond(entry, 400, reason: "Bad Request (no key in the INFO body)")
                return
            }
            endpoint.respond(entry, 200)
            emit(.infoDigit(digit))
        default:
            endpoint.respond(entry, 415, reason: "Unsupported Media Type",
                             headers: [SIPHeader(name: "Accept", value: "application/dtmf-relay, application/dtmf")])
        }
    }

    private func receivedREFER(_ request: SIPRequest, entry: ServerNonInviteEntry) {
        let values = request.headers.values("Refer-To")
        guard values.count == 1, let target = try? NameAddress.parse(values[0]) else {
            endpoint.respond(entry, 400, reason: "Bad Request (exactly one Refer-To is required)")
            return
        }
        guard state == .confirmed, referSubscriptionID == nil else {
            endpoint.respond(entry, 491, reason: "Request Pending")
            return
        }
        referSubscriptionID = request.cseq?.sequence ?? 0
        endpoint.respond(entry, 202, reason: "Accepted")
        var uri = target.uri
        uri.headers = []   // Replaces and other embedded headers are not acted on
        notifyReferProgress(statusCode: 100)
        emit(.referred(target: uri.description, referredBy: request.headers["Referred-By"]))
    }

    private func sipfragStatus(_ body: [UInt8]) -> Int? {
        let line = String(decoding: body, as: UTF8.self).split(whereSeparator: \.isNewline).first ?? ""
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("SIP/") else { return nil }
        return Int(parts[1])
    }

    // MARK: Our in-dialog requests

    func makeInDialogRequest(_ method: SIPMethod) -> SIPRequest {
        var request = dialog!.makeRequest(method)
        request.headers.add("User-Agent", endpoint.configuration.userAgent)
        return request
    }

    private func sendReINVITE(sdp: [UInt8], retryOnGlare: Int, sessionRefresh: Bool = false) -> EventLoopFuture<[UInt8]?> {
        guard state == .confirmed, dialog != nil else { return endpoint.eventLoop.makeSucceededFuture(nil) }
        if outgoingReINVITE || incomingReINVITE != nil {
            return endpoint.eventLoop.makeSucceededFuture(nil)
        }
        outgoingReINVITE = true
        var request = makeInDialogRequest(.invite)
        addContact(&request)
        request.headers.add("Allow", allowedMethods)
        if let timer = sessionTimer {
            request.headers.add("Supported", "timer")
            request.headers.add("Session-Expires", "\(timer.interval);refresher=\(timer.weRefresh ? "uac" : "uas")")
        }
        request.headers.add("Content-Type", "application/sdp")
        request.body = sdp
        let sequence = request.cseq?.sequence ?? 0
        let promise = endpoint.eventLoop.makePromise(of: [UInt8]?.self)
        var ackSent: SIPRequest?
        endpoint.sendInvite(request, flow: inDialogFlow()) { [self] event in
            switch event {
            case .provisional: break
            case .success(let response):
                // §13.2.2.4: every 2xx gets the ACK (retransmissions get the same one).
                if ackSent == nil {
                    var ack = dialog!.makeRequest(.ack, sequence: sequence)
                    ack.headers.add("User-Agent", endpoint.configuration.userAgent)
                    ackSent = ack
                }
                endpoint.sendStateless(ackSent!, flow: inDialogFlow())
                guard outgoingReINVITE else { return }
                outgoingReINVITE = false
                if !response.body.isEmpty {
                    localSDP = sdp
                    remoteSDP = response.body
                }
                readSessionTimer(from: response)
                promise.succeed(response.body.isEmpty ? nil : response.body)
            case .failure(let status, _):
                outgoingReINVITE = false
                if status == 491, retryOnGlare > 0 {
                    // §14.1: retry after 2.1–4 s when we own the Call-ID, else 0–2 s.
                    let ms = ownsCallID ? Int.random(in: 2100...4000) : Int.random(in: 0...2000)
                    endpoint.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) { [self] in
                        sendReINVITE(sdp: sdp, retryOnGlare: retryOnGlare - 1).cascade(to: promise)
                    }
                    return
                }
                if status == 481 || status == 408 {
                    // §12.2.1.2: the dialog is gone.
                    if state == .confirmed { sendBYE() }
                }
                promise.succeed(nil)
            }
        }
        return promise.futureResult
    }

    /// Whether we created the Call-ID (we sent the initial INVITE): it decides glare back-off.
    var ownsCallID: Bool { false }

    @discardableResult
    func sendBYE() -> EventLoopFuture<Void> {
        stopRetransmitting()
        guard dialog != nil else {
            terminate()
            return endpoint.eventLoop.makeSucceededVoidFuture()
        }
        state = .ending
        let bye = makeInDialogRequest(.bye)
        let promise = endpoint.eventLoop.makePromise(of: Void.self)
        endpoint.sendRequest(bye, flow: inDialogFlow()) { [self] result in
            if case .timeout = result {
                logger.notice("BYE timed out", metadata: ["call-id": "\(callID)"])
            }
            terminate()
            promise.succeed(())
        }
        return promise.futureResult
    }

    /// Where in-dialog requests go: back on the peer's stream connection, or over UDP to the
    /// first route or the remote target when they are IP literals (DNS is RFC 3263's business
    /// and not done here), else to the address the dialog's first message came from.
    func inDialogFlow() -> SIPFlow {
        if case .stream = flow { return flow }
        if let uri = dialog?.nextHop, let address = try? SocketAddress(ipAddress: uri.host, port: uri.port ?? 5060) {
            return .datagram(remote: address)
        }
        return flow
    }

    func addContact(_ message: inout SIPResponse) {
        message.headers.set("Contact", "<\(endpoint.contactURI(user: contactUser, flow: flow).description)>")
    }

    func addContact(_ message: inout SIPRequest) {
        message.headers.set("Contact", "<\(endpoint.contactURI(user: contactUser, flow: flow).description)>")
    }

    /// The user part of our Contact.
    var contactUser: String? { nil }

    // MARK: Session timers (RFC 4028)

    /// §9: the UAS side of a session-timer negotiation, for the 2xx to `request`.
    func addSessionTimerHeaders(_ response: inout SIPResponse, request: SIPRequest) {
        for h in sessionTimerHeaders(for: request) { response.headers.set(h.name, h.value) }
    }

    /// The `Session-Expires` (and `Require: timer`) of our 2xx to `request`; takes the
    /// interval and refresher it settles and arms the timer. Empty without `Session-Expires`.
    func sessionTimerHeaders(for request: SIPRequest) -> [SIPHeader] {
        guard let value = request.headers["Session-Expires"],
            let interval = Int(value.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? "")
        else { return [] }
        let supported = request.headers.values("Supported").contains { $0.lowercased() == "timer" }
        let requested = parameter("refresher", in: value)
        // The refresher is named from the request's sender: "uac" is the peer here.
        let refresher = requested ?? (supported ? "uac" : "uas")
        sessionTimer = SessionTimer(interval: interval, weRefresh: refresher == "uas")
        armSessionTimer()
        var headers = [SIPHeader(name: "Session-Expires", value: "\(interval);refresher=\(refresher)")]
        if supported { headers.append(SIPHeader(name: "Require", value: "timer")) }
        return headers
    }

    /// §7.2: the UAC side, from the 2xx to our INVITE or refresh.
    func readSessionTimer(from response: SIPResponse) {
        guard let value = response.headers["Session-Expires"],
            let interval = Int(value.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? "")
        else {
            return
        }
        let refresher = parameter("refresher", in: value) ?? "uac"
        sessionTimer = SessionTimer(interval: interval, weRefresh: refresher == "uac")
        armSessionTimer()
    }

    func armSessionTimer() {
        sessionTimerTask?.cancel()
        guard let timer = sessionTimer, timer.interval > 0, state == .confirmed || state == .accepted else { return }
        if timer.weRefresh {
            sessionTimerTask = endpoint.eventLoop.scheduleTask(in: .seconds(Int64(timer.interval / 2))) { [self] in
                refreshSession()
            }
        } else {
            // §10: BYE at the expiry minus a third of it, at most 32 s before.
            let before = min(32, timer.interval / 3)
            sessionTimerTask = endpoint.eventLoop.scheduleTask(in: .seconds(Int64(timer.interval - before))) { [self] in
                guard state == .confirmed else { return }
                logger.notice("session expired without refresh", metadata: ["call-id": "\(callID)"])
                sendBYE()
                emit(.sessionExpired)
            }
        }
    }

    private func refreshSession() {
        guard state == .confirmed, let timer = sessionTimer else { return }
        if peerAllows.contains("UPDATE") {
            var request = makeInDialogRequest(.update)
            request.headers.add("Supported", "timer")
            request.headers.add("Session-Expires", "\(timer.interval);refresher=uac")
            endpoint.sendRequest(request, flow: inDialogFlow()) { [self] result in
                if case .response(let r) = result, (200..<300).contains(r.statusCode) {
                    readSessionTimer(from: r)
                } else {
                    armSessionTimer()
                }
            }
        } else {
            sendReINVITE(sdp: localSDP, retryOnGlare: 1, sessionRefresh: true).whenComplete { [self] _ in
                if sessionTimerTask == nil || sessionTimer == timer { armSessionTimer() }
            }
        }
    }

    private func parameter(_ name: String, in value: String) -> String? {
        for part in value.split(separator: ";").dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2, kv[0].lowercased() == name { return kv[1].lowercased() }
        }
        return nil
    }

    // MARK: Teardown

    func stopRetransmitting() {
        reinviteRetransmit?.cancel()
        reinviteRetransmit = nil
    }

    func terminate() {
        stopRetransmitting()
        sessionTimerTask?.cancel()
        sessionTimerTask = nil
        state = .terminated
        endpoint.unregister(self)
    }

    func transportFailed() {
        guard state != .terminated else { return }
        terminate()
        emit(.transportFailure)
    }
}

/// RFC 2976 INFO bodies carrying keys: `application/dtmf-relay` (`Signal=5`) as Cisco and most
/// phones send, and `application/dtmf` (the bare key).
enum InfoDTMF {
    static func parse(_ body: [UInt8], contentType: String) -> Character? {
        let text = String(decoding: body, as: UTF8.self)
        var value: Substring?
        if contentType == "application/dtmf" {
            value = text.split(whereSeparator: \.isNewline).first
        } else {
            for line in text.split(whereSeparator: \.isNewline) {
                let kv = line.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == "signal" {
                    value = Substring(kv[1].trimmingCharacters(in: .whitespaces))
                }
            }
        }
        guard let v = value?.trimmingCharacters(in: .whitespaces), v.count == 1, let c = v.uppercased().first,
            "0123456789*#ABCD".contains(c)
        else {
            // Some phones send the RFC 4733 event code (10 for *, 11 for #).
            if let v = value?.trimmingCharacters(in: .whitespaces), v == "10" { return "*" }
            if let v = value?.trimmingCharacters(in: .whitespaces), v == "11" { return "#" }
            return nil
        }
        return c
    }
}
