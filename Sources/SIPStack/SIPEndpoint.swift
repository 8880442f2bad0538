import HotlineCore
import Logging
import Metrics
import NIOCore
import NIOPosix
import SIPMessages

public struct SIPEndpointConfiguration: Sendable {
    /// The address to listen on and to put in Via and Contact (never a wildcard).
    public var address: String
    public var port: Int
    public var udp = true
    public var tcp = true
    public var timers = TransactionTimers()
    public var limits = SIPParser.Limits()
    public var userAgent = "Hotline"
    /// Retry-After (seconds) on the 503 that new calls get while the node drains.
    public var drainRetryAfter = 30

    public init(address: String, port: Int) {
        self.address = address
        self.port = port
    }
}

/// The transaction user above the endpoint: the call layer.
public protocol SIPEndpointDelegate: AnyObject, Sendable {
    /// A new INVITE outside any dialog, already answered with 100 Trying. Called on the
    /// endpoint's event loop; the delegate answers later through the session.
    func endpoint(_ endpoint: SIPEndpoint, incomingCall session: InviteServerSession)
}

/// Methods this endpoint serves; other known methods get 405 with this list, unknown ones 501.
let allowedMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS"
private let knownButNotAllowed: Set<SIPMethod> = [
    .register, .info, .update, .refer, .notify, .subscribe, .message, .prack, .publish,
]

/// The SIP transport and transaction layers (RFC 3261 §17, §18) plus the request routing of a
/// user agent server core (§8.2): listeners, server and client transactions keyed by branch,
/// response routing by Via, and dispatch of INVITE sessions to the delegate.
///
/// Everything runs on one event loop (`eventLoop`); the type is confined to it.
public final class SIPEndpoint: @unchecked Sendable {
    public let eventLoop: EventLoop
    public let configuration: SIPEndpointConfiguration
    let logger: Logger
    private let parser: SIPParser
    public weak var delegate: SIPEndpointDelegate?

    private var udpChannel: Channel?
    private var tcpChannel: Channel?
    private var serverInvites: [TransactionKey: ServerInviteEntry] = [:]
    private var serverNonInvites: [TransactionKey: ServerNonInviteEntry] = [:]
    private var clientTransactions: [String: ClientNonInviteEntry] = [:]
    private var dialogs: [DialogKey: InviteServerSession] = [:]
    private var draining = false

    let messagesReceived = Counter(label: "hotline_sip_messages_received_total")
    let malformedDropped = Counter(label: "hotline_sip_messages_dropped_total", dimensions: [("reason", "malformed")])
    let strayDropped = Counter(label: "hotline_sip_messages_dropped_total", dimensions: [("reason", "unmatched")])
    let badRequests = Counter(label: "hotline_sip_bad_requests_total")
    let transportErrorCount = Counter(label: "hotline_sip_transport_errors_total")

    public init(eventLoop: EventLoop, configuration: SIPEndpointConfiguration, logger: Logger) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        self.parser = SIPParser(limits: configuration.limits)
    }

    // MARK: Lifecycle

    /// Binds the UDP and TCP listeners. Fails if either port cannot be bound.
    public func start() async throws {
        if configuration.udp {
            udpChannel = try await DatagramBootstrap(group: eventLoop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPTransportHandler(endpoint: self))
                    }
                }
                .bind(host: configuration.address, port: configuration.port).get()
        }
        if configuration.tcp {
            let limits = configuration.limits
            tcpChannel = try await ServerBootstrap(group: eventLoop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 1024)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TCPTransportHandler(endpoint: self, limits: limits))
                    }
                }
                .bind(host: configuration.address, port: configuration.port).get()
        }
        logger.info(
            "SIP listening",
            metadata: [
                "address": "\(configuration.address)", "port": "\(configuration.port)",
                "udp": "\(configuration.udp)", "tcp": "\(configuration.tcp)",
            ])
    }

    /// From now on, new calls get 503 with Retry-After; dialogs in progress carry on.
    public func beginDrain() {
        eventLoop.execute { self.draining = true }
    }

    public func stop() async {
        try? await udpChannel?.close()
        try? await tcpChannel?.close()
    }

    // MARK: Receiving

    func receive(_ bytes: [UInt8], flow: SIPFlow, framed: Bool = false) {
        eventLoop.assertInEventLoop()
        let message: SIPMessage
        do {
            message = framed ? try parser.parse(framed: bytes) : try parser.parse(datagram: bytes)
        } catch {
            // An empty or CRLF-only datagram is an RFC 5626 keep-alive, not a message.
            guard error.kind != .empty else { return }
            messagesReceived.increment()
            rejectMalformed(error, flow: flow)
            return
        }
        messagesReceived.increment()
        switch message {
        case .request(let request): receiveRequest(request, flow: flow)
        case .response(let response): receiveResponse(response, flow: flow)
        }
    }

    func streamFramingFailed(_ error: SIPParseError, flow: SIPFlow) {
        malformedDropped.increment()
        logger.notice("closing SIP stream after a framing error", metadata: ["flow": "\(flow)", "error": "\(error)"])
    }

    /// RFC 3261 §21.4.1: answer 400 (or the error's code) when the message can be routed back,
    /// otherwise drop it; never answer an ACK.
    private func rejectMalformed(_ error: SIPParseError, flow: SIPFlow) {
        if let partial = error.partialRequest, partial.method != .ack, partial.topVia != nil {
            badRequests.increment()
            logger.debug("malformed request answered", metadata: ["flow": "\(flow)", "error": "\(error)"])
            let stamped = stampReceived(partial, flow: flow)
            var response = SIPResponse(to: stamped, statusCode: error.statusCode, reason: reasonPhrase(error), toTag: randomToken())
            addServerHeaders(&response)
            sendResponse(response, flow: flow)
        } else {
            malformedDropped.increment()
            logger.debug("malformed message dropped", metadata: ["flow": "\(flow)", "error": "\(error)"])
        }
    }

    private func reasonPhrase(_ error: SIPParseError) -> String {
        let base = SIPResponse.reasonPhrase(for: error.statusCode)
        let detail = String(error.description.prefix(120).map { $0.isASCII && !$0.isNewline ? $0 : " " })
        return "\(base) (\(detail))"
    }

    private func receiveRequest(_ received: SIPRequest, flow: SIPFlow) {
        guard let via = received.topVia else {
            malformedDropped.increment()   // no Via: a response could not be routed
            return
        }
        let request = stampReceived(received, flow: flow)
        guard let cseq = request.cseq, request.callID != nil, request.from != nil, request.to != nil else {
            if request.method != .ack { reply(request, 400, reason: "Bad Request (missing Call-ID, CSeq, From or To)", flow: flow) }
            return
        }
        if request.headers.values("Content-Length").count > 1 {
            if request.method != .ack { reply(request, 400, reason: "Bad Request (more than one Content-Length)", flow: flow) }
            return
        }
        let sentBy = TransactionKey.normalizedSentBy(host: via.host, port: via.port ?? defaultPort(via.transport))
        let branch = via.branch ?? ""
        // RFC 2543 peers send no magic cookie: key their transactions by the dialog and CSeq.
        let key = TransactionKey.server(branch: branch, method: request.method.name, sentBy: sentBy)
            ?? TransactionKey(
                branch: "\(request.callID ?? "")|\(request.from?.tag ?? "")|\(cseq.sequence)|\(branch)",
                method: TransactionKey.matchingMethod(forServerRequestMethod: request.method.name), sentBy: sentBy)

        switch request.method {
        case .ack:
            receiveACK(request, key: key)
            return
        case .cancel:
            receiveCANCEL(request, key: key, flow: flow)
            return
        case .invite:
            if let entry = serverInvites[key] {
                perform(entry.machine.receivedRequestRetransmission(), entry: entry)
                return
            }
        default:
            if let entry = serverNonInvites[key] {
                perform(entry.machine.receivedRequestRetransmission(), entry: entry)
                return
            }
        }

        // A new server transaction.
        if request.method == .invite {
            let entry = ServerInviteEntry(
                key: key, request: request, flow: flow,
                machine: ServerInviteTransaction(transport: flow.isReliable ? .reliable : .unreliable, timers: configuration.timers))
            serverInvites[key] = entry
            receiveINVITE(request, entry: entry)
        } else {
            let entry = ServerNonInviteEntry(
                key: key, request: request, flow: flow,
                machine: ServerNonInviteTransaction(transport: flow.isReliable ? .reliable : .unreliable, timers: configuration.timers))
            serverNonInvites[key] = entry
            receiveNonINVITE(request, entry: entry)
        }
    }

    /// RFC 3261 §18.2.1 and RFC 3581: note the source address in the top Via.
    private func stampReceived(_ request: SIPRequest, flow: SIPFlow) -> SIPRequest {
        guard var via = request.topVia, let source = flow.remoteAddress, let ip = source.ipAddress else { return request }
        var changed = false
        if via.host != ip {
            via.received = ip
            changed = true
        }
        if case .some(.none) = via.rport, let port = source.port {
            via.rport = .some(port)
            if via.received == nil { via.received = ip }
            changed = true
        }
        guard changed else { return request }
        // Responses copy the Via values in order (§8.2.6.2), so the Via lines are rewritten
        // one value each, the first one stamped.
        var vias = request.headers.values("Via")
        vias[0] = via.description
        var stamped = request
        stamped.headers.remove("Via")
        for value in vias.reversed() { stamped.headers.prepend("Via", value) }
        return stamped
    }

    private func defaultPort(_ transport: String) -> Int {
        transport.uppercased() == "TLS" ? 5061 : 5060
    }

    /// §8.2.2: checks every new request goes through before its method is looked at.
    private func checkRequest(_ request: SIPRequest) -> (Int, String, [SIPHeader])? {
        switch request.uri.scheme {
        case "sip", "sips", "tel": break
        default: return (416, "Unsupported URI Scheme", [])
        }
        let required = request.headers.values("Require").filter { !$0.isEmpty }
        if !required.isEmpty, request.method != .cancel {
            // §8.2.2.3: we support no extension yet.
            return (420, "Bad Extension", [SIPHeader(name: "Unsupported", value: required.joined(separator: ", "))])
        }
        if request.method == .invite, !request.body.isEmpty {
            let type = request.contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            if type != "application/sdp" {
                return (415, "Unsupported Media Type", [SIPHeader(name: "Accept", value: "application/sdp")])
            }
        }
        return nil
    }

    private func receiveINVITE(_ request: SIPRequest, entry: ServerInviteEntry) {
        // 100 Trying at once (§17.2.1), so the caller's Timer A stops.
        var trying = SIPResponse(to: request, statusCode: 100)
        addServerHeaders(&trying)
        perform(entry.machine.sendProvisional(trying), entry: entry)

        if let (code, reason, headers) = checkRequest(request) {
            respond(entry, code, reason: reason, headers: headers)
            return
        }
        if let toTag = request.to?.tag {
            // A re-INVITE inside a dialog (session refresh, hold): this issue keeps the media as
            // negotiated and answers with the session's current SDP.
            let dialogKey = DialogKey(callID: request.callID ?? "", localTag: toTag, remoteTag: request.from?.tag ?? "")
            if let session = dialogs[dialogKey] {
                session.receivedReINVITE(request, entry: entry)
            } else {
                respond(entry, 481, reason: "Call/Transaction Does Not Exist")
            }
            return
        }
        if draining {
            respond(entry, 503, reason: "Service Unavailable", headers: [SIPHeader(name: "Retry-After", value: "\(configuration.drainRetryAfter)")])
            return
        }
        guard let delegate else {
            respond(entry, 503, reason: "Service Unavailable")
            return
        }
        let session = InviteServerSession(endpoint: self, request: request, entry: entry, localTag: randomToken())
        entry.session = session
        delegate.endpoint(self, incomingCall: session)
    }

    private func receiveNonINVITE(_ request: SIPRequest, entry: ServerNonInviteEntry) {
        if let (code, reason, headers) = checkRequest(request) {
            respond(entry, code, reason: reason, headers: headers)
            return
        }
        switch request.method {
        case .options:
            respond(entry, 200, headers: [
                SIPHeader(name: "Allow", value: allowedMethods),
                SIPHeader(name: "Accept", value: "application/sdp"),
            ], toTag: request.to?.tag == nil ? randomToken() : nil)
        case .bye:
            let key = DialogKey(callID: request.callID ?? "", localTag: request.to?.tag ?? "", remoteTag: request.from?.tag ?? "")
            if let session = dialogs[key] {
                session.receivedBYE(request, entry: entry)
            } else {
                respond(entry, 481, reason: "Call/Transaction Does Not Exist")
            }
        case let method where knownButNotAllowed.contains(method):
            respond(entry, 405, headers: [SIPHeader(name: "Allow", value: allowedMethods)])
        default:
            respond(entry, 501, headers: [SIPHeader(name: "Allow", value: allowedMethods)])
        }
    }

    private func receiveACK(_ request: SIPRequest, key: TransactionKey) {
        // An ACK for a non-2xx final response belongs to the INVITE transaction (§17.2.1);
        // an ACK for a 2xx is its own transaction and goes to the dialog (§13.3.1.4).
        if let entry = serverInvites[key], entry.machine.phase == .completed {
            perform(entry.machine.receivedACK(), entry: entry)
            return
        }
        let dialogKey = DialogKey(callID: request.callID ?? "", localTag: request.to?.tag ?? "", remoteTag: request.from?.tag ?? "")
        if let session = dialogs[dialogKey] {
            session.receivedACK(request)
        } else {
            strayDropped.increment()
        }
    }

    private func receiveCANCEL(_ request: SIPRequest, key: TransactionKey, flow: SIPFlow) {
        let cancelKey = TransactionKey(branch: key.branch, method: "CANCEL", sentBy: key.sentBy)
        if let entry = serverNonInvites[cancelKey] {
            perform(entry.machine.receivedRequestRetransmission(), entry: entry)
            return
        }
        let entry = ServerNonInviteEntry(
            key: cancelKey, request: request, flow: flow,
            machine: ServerNonInviteTransaction(transport: flow.isReliable ? .reliable : .unreliable, timers: configuration.timers))
        serverNonInvites[cancelKey] = entry
        // §9.2: the CANCEL matches the INVITE transaction with the same branch.
        let inviteKey = TransactionKey(branch: key.branch, method: "INVITE", sentBy: key.sentBy)
        guard let invite = serverInvites[inviteKey] else {
            respond(entry, 481, reason: "Call/Transaction Does Not Exist")
            return
        }
        respond(entry, 200, toTag: invite.session?.localTag)
        invite.session?.receivedCANCEL()
    }

    private func receiveResponse(_ response: SIPResponse, flow: SIPFlow) {
        guard let via = response.topVia, let branch = via.branch, let entry = clientTransactions[branch],
            response.cseq?.method == entry.machine.request.method
        else {
            strayDropped.increment()
            return
        }
        entry.lastResponse = response
        perform(entry.machine.receivedResponse(statusCode: response.statusCode), entry: entry)
    }

    // MARK: Sending

    func addServerHeaders(_ response: inout SIPResponse) {
        if response.headers["Server"] == nil { response.headers.add("Server", configuration.userAgent) }
    }

    /// Answers a request outside any transaction (malformed or incomplete requests only).
    private func reply(_ request: SIPRequest, _ code: Int, reason: String, flow: SIPFlow) {
        badRequests.increment()
        var response = SIPResponse(to: request, statusCode: code, reason: reason, toTag: request.to?.tag == nil ? randomToken() : nil)
        addServerHeaders(&response)
        sendResponse(response, flow: flow)
    }

    func respond(_ entry: ServerNonInviteEntry, _ code: Int, reason: String? = nil, headers: [SIPHeader] = [], toTag: String? = nil) {
        var response = SIPResponse(
            to: entry.request, statusCode: code, reason: reason,
            toTag: toTag ?? (entry.request.to?.tag == nil ? randomToken() : nil))
        for h in headers { response.headers.add(h.name, h.value) }
        addServerHeaders(&response)
        perform(entry.machine.sendFinal(response, statusCode: code), entry: entry)
    }

    func respond(_ entry: ServerInviteEntry, _ code: Int, reason: String? = nil, headers: [SIPHeader] = [], toTag: String? = nil) {
        guard entry.machine.canSendFinalResponse else { return }
        var response = SIPResponse(
            to: entry.request, statusCode: code, reason: reason,
            toTag: toTag ?? entry.session?.localTag ?? (entry.request.to?.tag == nil ? randomToken() : nil))
        for h in headers { response.headers.add(h.name, h.value) }
        addServerHeaders(&response)
        perform(entry.machine.sendFinal(response, statusCode: code), entry: entry)
    }

    /// RFC 3261 §18.2.2 and RFC 3581 §4: stream responses go back on the connection; datagram
    /// responses go to the source port when the client asked for rport, else to the Via.
    func sendResponse(_ response: SIPResponse, flow: SIPFlow) {
        let bytes = response.serialize()
        switch flow {
        case .stream(let channel, _):
            channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
        case .datagram(let source):
            guard let udp = udpChannel else { return }
            var target = source
            if let via = response.topVia, via.rport == nil {
                let host = via.received ?? via.host
                if let addr = try? SocketAddress(ipAddress: host, port: via.port ?? 5060) { target = addr }
            }
            udp.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: udp.allocator.buffer(bytes: bytes)), promise: nil)
        }
    }

    enum ClientResult: Sendable {
        case response(SIPResponse)
        case timeout
        case transportError
    }

    /// Sends a request in a new client non-INVITE transaction (§17.1.2), with a fresh Via.
    func sendRequest(_ request: SIPRequest, flow: SIPFlow, completion: @escaping (ClientResult) -> Void) {
        eventLoop.assertInEventLoop()
        var request = request
        let branch = TransactionKey.magicCookie + randomToken()
        var via = Via(transport: flow.viaTransport, host: configuration.address, port: configuration.port)
        via.branch = branch
        via.rport = .some(nil)
        var headers = SIPHeaders()
        headers.add("Via", via.description)
        for h in request.headers where h.name.caseInsensitiveCompare("Via") != .orderedSame { headers.add(h.name, h.value) }
        request.headers = headers
        let entry = ClientNonInviteEntry(
            branch: branch, flow: flow, completion: completion,
            machine: ClientNonInviteTransaction(request: request, transport: flow.isReliable ? .reliable : .unreliable, timers: configuration.timers))
        clientTransactions[branch] = entry
        perform(entry.machine.start(), entry: entry)
    }

    private func transmit(_ request: SIPRequest, flow: SIPFlow) {
        let bytes = request.serialize()
        switch flow {
        case .stream(let channel, _):
            channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
        case .datagram(let target):
            guard let udp = udpChannel else { return }
            udp.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: udp.allocator.buffer(bytes: bytes)), promise: nil)
        }
    }

    // MARK: Performing transaction actions

    func performInviteActions(_ actions: [ServerInviteTransaction<SIPResponse>.Action], entry: ServerInviteEntry) {
        perform(actions, entry: entry)
    }

    /// Sends a prepared final response in a server INVITE transaction (re-INVITE answers).
    func respond2xx(_ entry: ServerInviteEntry, _ response: SIPResponse) {
        guard entry.machine.canSendFinalResponse else { return }
        perform(entry.machine.sendFinal(response, statusCode: response.statusCode), entry: entry)
    }

    private func perform(_ actions: [ServerInviteTransaction<SIPResponse>.Action], entry: ServerInviteEntry) {
        for action in actions {
            switch action {
            case .send(let response): sendResponse(response, flow: entry.flow)
            case .startTimer(let timer, let after):
                entry.timers.start(timer, after: after, on: eventLoop) { [weak self, weak entry] in
                    guard let self, let entry else { return }
                    self.perform(entry.machine.timerFired(timer), entry: entry)
                }
            case .cancelTimer(let timer): entry.timers.cancel(timer)
            case .passACKToTU: entry.session?.receivedACK(entry.request)
            case .timeout: logger.debug("INVITE transaction timed out waiting for ACK", metadata: ["call-id": "\(entry.request.callID ?? "")"])
            case .transportError: entry.session?.transportFailed()
            case .terminated:
                entry.timers.cancelAll()
                serverInvites.removeValue(forKey: entry.key)
            }
        }
    }

    private func perform(_ actions: [ServerNonInviteTransaction<SIPResponse>.Action], entry: ServerNonInviteEntry) {
        for action in actions {
            switch action {
            case .send(let response): sendResponse(response, flow: entry.flow)
            case .startTimer(let timer, let after):
                entry.timers.start(timer, after: after, on: eventLoop) { [weak self, weak entry] in
                    guard let self, let entry else { return }
                    self.perform(entry.machine.timerFired(timer), entry: entry)
                }
            case .cancelTimer(let timer): entry.timers.cancel(timer)
            case .transportError: break
            case .terminated:
                entry.timers.cancelAll()
                serverNonInvites.removeValue(forKey: entry.key)
            }
        }
    }

    private func perform(_ actions: [ClientNonInviteTransaction<SIPRequest>.Action], entry: ClientNonInviteEntry) {
        for action in actions {
            switch action {
            case .send(let request): transmit(request, flow: entry.flow)
            case .startTimer(let timer, let after):
                entry.timers.start(timer, after: after, on: eventLoop) { [weak self, weak entry] in
                    guard let self, let entry else { return }
                    self.perform(entry.machine.timerFired(timer), entry: entry)
                }
            case .cancelTimer(let timer): entry.timers.cancel(timer)
            case .passResponseToTU:
                if let response = entry.lastResponse, response.statusCode >= 200 { entry.finish(.response(response)) }
            case .timeout: entry.finish(.timeout)
            case .transportError: entry.finish(.transportError)
            case .terminated:
                entry.timers.cancelAll()
                clientTransactions.removeValue(forKey: entry.branch)
            }
        }
    }

    // MARK: Dialogs

    func register(_ session: InviteServerSession) {
        dialogs[session.dialogKey] = session
    }

    func unregister(_ session: InviteServerSession) {
        if dialogs[session.dialogKey] === session { dialogs.removeValue(forKey: session.dialogKey) }
    }

    public var activeDialogCount: Int {
        eventLoop.assertInEventLoop()
        return dialogs.count
    }
}

/// RFC 3261 §12: a dialog is named by Call-ID and the two tags.
struct DialogKey: Hashable {
    var callID: String
    var localTag: String
    var remoteTag: String
}

/// Scheduled transaction timers of one transaction, by timer name.
struct TransactionTimerTable {
    private var scheduled: [TransactionTimer: Scheduled<Void>] = [:]

    mutating func start(_ timer: TransactionTimer, after: Duration, on loop: EventLoop, fire: @escaping @Sendable () -> Void) {
        scheduled[timer]?.cancel()
        scheduled[timer] = loop.scheduleTask(in: TimeAmount(after)) { fire() }
    }

    mutating func cancel(_ timer: TransactionTimer) {
        scheduled.removeValue(forKey: timer)?.cancel()
    }

    mutating func cancelAll() {
        for s in scheduled.values { s.cancel() }
        scheduled = [:]
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

final class ServerInviteEntry: @unchecked Sendable {  // confined to the endpoint's loop
    let key: TransactionKey
    let request: SIPRequest
    let flow: SIPFlow
    var machine: ServerInviteTransaction<SIPResponse>
    var timers = TransactionTimerTable()
    var session: InviteServerSession?

    init(key: TransactionKey, request: SIPRequest, flow: SIPFlow, machine: ServerInviteTransaction<SIPResponse>) {
        self.key = key
        self.request = request
        self.flow = flow
        self.machine = machine
    }
}

final class ServerNonInviteEntry: @unchecked Sendable {  // confined to the endpoint's loop
    let key: TransactionKey
    let request: SIPRequest
    let flow: SIPFlow
    var machine: ServerNonInviteTransaction<SIPResponse>
    var timers = TransactionTimerTable()

    init(key: TransactionKey, request: SIPRequest, flow: SIPFlow, machine: ServerNonInviteTransaction<SIPResponse>) {
        self.key = key
        self.request = request
        self.flow = flow
        self.machine = machine
    }
}

final class ClientNonInviteEntry: @unchecked Sendable {  // confined to the endpoint's loop
    let branch: String
    let flow: SIPFlow
    var machine: ClientNonInviteTransaction<SIPRequest>
    var timers = TransactionTimerTable()
    var lastResponse: SIPResponse?
    private var completion: ((SIPEndpoint.ClientResult) -> Void)?

    init(branch: String, flow: SIPFlow, completion: @escaping (SIPEndpoint.ClientResult) -> Void, machine: ClientNonInviteTransaction<SIPRequest>) {
        self.branch = branch
        self.flow = flow
        self.completion = completion
        self.machine = machine
    }

    func finish(_ result: SIPEndpoint.ClientResult) {
        let c = completion
        completion = nil
        c?(result)
    }
}

/// 64 random bits as hex: tags (§19.3) and branch suffixes.
func randomToken() -> String {
    var g = SystemRandomNumberGenerator()
    let v = UInt64.random(in: .min ... .max, using: &g)
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

import Foundation
