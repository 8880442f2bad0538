import HotlineCore
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
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
    public var sessionTimers = SessionTimerSettings()
    /// SIP over TLS (RFC 3261 §26.2; `sips:`), for agent phones.
    public var tls: SIPTLSSettings?

    public init(address: String, port: Int) {
        self.address = address
        self.port = port
    }
}

/// RFC 4028 session timers: what we ask for on our INVITEs and accept on theirs.
public struct SessionTimerSettings: Sendable {
    public var enabled = true
    /// Session-Expires we propose (seconds).
    public var sessionExpires = 1800
    /// The smallest interval we accept (Min-SE); shorter requests get 422.
    public var minSE = 90
    public init() {}
}

/// The transaction user above the endpoint: the call layer.
public protocol SIPEndpointDelegate: AnyObject, Sendable {
    /// A new INVITE outside any dialog, already answered with 100 Trying. Called on the
    /// endpoint's event loop; the delegate answers later through the session.
    func endpoint(_ endpoint: SIPEndpoint, incomingCall session: InviteServerSession)
    /// Calls in progress (for overload admission of new INVITEs).
    var activeCallCount: Int { get }
}

/// Methods this endpoint serves; other known methods get 405 with this list, unknown ones 501.
let allowedMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, REGISTER"
/// Extensions we implement (RFC 4028 session timers; RFC 3515 REFER needs no option tag).
let supportedExtensions: Set<String> = ["timer"]
private let knownButNotAllowed: Set<SIPMethod> = [.subscribe, .message, .prack, .publish]

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
    private var clientInvites: [String: ClientInviteEntry] = [:]
    /// CANCELs in flight, by the branch of the INVITE they cancel (they share it, §9.1).
    private var cancelTransactions: [String: ClientNonInviteEntry] = [:]
    private var dialogs: [DialogKey: InviteSession] = [:]
    private var tlsChannel: Channel?
    /// REGISTER, digest authentication of calls, per-source defences; nil serves no REGISTER.
    public private(set) var registrar: Registrar?
    private var draining = false

    let messagesReceived = Counter(label: "hotline_sip_messages_received_total")
    let malformedDropped = Counter(label: "hotline_sip_messages_dropped_total", dimensions: [("reason", "malformed")])
    let strayDropped = Counter(label: "hotline_sip_messages_dropped_total", dimensions: [("reason", "unmatched")])
    let badRequests = Counter(label: "hotline_sip_bad_requests_total")
    let transportErrorCount = Counter(label: "hotline_sip_transport_errors_total")
    let guardDropped = Counter(label: "hotline_sip_messages_dropped_total", dimensions: [("reason", "source_guard")])

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
        if let tls = configuration.tls {
            let context = try tls.makeServerContext()
            let limits = configuration.limits
            tlsChannel = try await ServerBootstrap(group: eventLoop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 1024)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                        try channel.pipeline.syncOperations.addHandler(TCPTransportHandler(endpoint: self, limits: limits, transport: .tls))
                    }
                }
                .bind(host: configuration.address, port: tls.port).get()
            logger.info("SIP over TLS listening", metadata: ["address": "\(configuration.address)", "port": "\(tls.port)"])
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
        registrar?.stop()
        // Requests still waiting for an answer (a BYE to a peer that went away) complete now,
        // so nothing waits on a transaction that can no longer finish.
        try? await eventLoop.submit { [self] in
            let pending = Array(clientTransactions.values) + Array(cancelTransactions.values)
            clientTransactions = [:]
            cancelTransactions = [:]
            for entry in pending {
                entry.timers.cancelAll()
                entry.finish(.transportError)
            }
            for entry in clientInvites.values { entry.timers.cancelAll() }
            clientInvites = [:]
        }.get()
        try? await udpChannel?.close()
        try? await tcpChannel?.close()
        try? await tlsChannel?.close()
    }

    /// Installs the registrar (before `start()`).
    public func setRegistrar(_ registrar: Registrar) {
        self.registrar = registrar
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

        // A new server transaction: per-source defences first (blocked sources get nothing).
        if let registrar {
            switch registrar.admit(request, flow: flow) {
            case .allow: break
            case .drop:
                guardDropped.increment()
                return
            case .rateLimited(let retryAfter):
                guardDropped.increment()
                reply(request, 503, reason: "Service Unavailable (rate limit)", flow: flow,
                      headers: [SIPHeader(name: "Retry-After", value: "\(retryAfter)")])
                return
            }
        }
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
        let unsupported = request.headers.values("Require").filter { !$0.isEmpty && !supportedExtensions.contains($0.lowercased()) }
        if !unsupported.isEmpty, request.method != .cancel, request.method != .ack {
            // §8.2.2.3
            return (420, "Bad Extension", [SIPHeader(name: "Unsupported", value: unsupported.joined(separator: ", "))])
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
            // A re-INVITE inside a dialog (hold, codec or address change, session refresh).
            let dialogKey = DialogKey(callID: request.callID ?? "", localTag: toTag, remoteTag: request.from?.tag ?? "")
            if let session = dialogs[dialogKey] {
                entry.dialogSession = session
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
        if let (code, headers) = checkSessionTimer(request) {
            respond(entry, code, headers: headers)
            return
        }
        var caller: Registrar.CallerIdentity = .unauthenticated
        if let registrar {
            switch registrar.authorizeCall(request, flow: entry.flow, pendingCalls: delegate.activeCallCount) {
            case .allowed(let identity): caller = identity
            case .respond(let code, let reason, let headers):
                respond(entry, code, reason: reason, headers: headers)
                return
            }
        }
        let session = InviteServerSession(endpoint: self, request: request, entry: entry, localTag: randomToken())
        session.caller = caller
        entry.session = session
        delegate.endpoint(self, incomingCall: session)
    }

    private func receiveNonINVITE(_ request: SIPRequest, entry: ServerNonInviteEntry) {
        if let (code, reason, headers) = checkRequest(request) {
            respond(entry, code, reason: reason, headers: headers)
            return
        }
        if let toTag = request.to?.tag, request.method != .register, request.method != .options {
            // §12.2.2: a request inside a dialog goes to its invite session.
            let key = DialogKey(callID: request.callID ?? "", localTag: toTag, remoteTag: request.from?.tag ?? "")
            if let session = dialogs[key] {
                session.receivedInDialog(request, entry: entry)
            } else {
                respond(entry, 481, reason: "Call/Transaction Does Not Exist")
            }
            return
        }
        switch request.method {
        case .options:
            respond(entry, 200, headers: [
                SIPHeader(name: "Allow", value: allowedMethods),
                SIPHeader(name: "Accept", value: "application/sdp"),
                SIPHeader(name: "Supported", value: "timer"),
            ], toTag: request.to?.tag == nil ? randomToken() : nil)
        case .register:
            if let registrar {
                registrar.receivedREGISTER(request, entry: entry)
            } else {
                respond(entry, 405, headers: [SIPHeader(name: "Allow", value: allowedMethods)])
            }
        case .bye, .info, .update, .refer, .notify:
            respond(entry, 481, reason: "Call/Transaction Does Not Exist")
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
        if let session = dialogs[dialogKey] as? InviteServerSession {
            session.receivedACK(request)
        } else if let session = dialogs[dialogKey] {
            session.receivedDialogACK(request)
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
        guard let via = response.topVia, let branch = via.branch else {
            strayDropped.increment()
            return
        }
        if response.cseq?.method == .invite, let entry = clientInvites[branch] {
            entry.lastResponse = response
            let invite = entry.machine.request   // read before the machine is mutated
            let actions = entry.machine.receivedResponse(statusCode: response.statusCode) {
                Self.makeNon2xxACK(for: invite, response: response)
            }
            perform(actions, entry: entry)
            return
        }
        if response.cseq?.method == .cancel, let entry = cancelTransactions[branch] {
            entry.lastResponse = response
            perform(entry.machine.receivedResponse(statusCode: response.statusCode), entry: entry)
            return
        }
        guard let entry = clientTransactions[branch], response.cseq?.method == entry.machine.request.method else {
            strayDropped.increment()
            return
        }
        entry.lastResponse = response
        perform(entry.machine.receivedResponse(statusCode: response.statusCode), entry: entry)
    }

    /// §17.1.1.3: the ACK for a non-2xx final response: the INVITE's Request-URI, top Via,
    /// From, Call-ID, Route and CSeq number, the response's To.
    static func makeNon2xxACK(for invite: SIPRequest, response: SIPResponse) -> SIPRequest {
        var ack = SIPRequest(method: .ack, uri: invite.uri)
        if let via = invite.headers.values("Via").first { ack.headers.add("Via", via) }
        ack.headers.add("Max-Forwards", "70")
        for route in invite.headers.values("Route") { ack.headers.add("Route", route) }
        if let from = invite.headers["From"] { ack.headers.add("From", from) }
        if let to = response.headers["To"] { ack.headers.add("To", to) }
        if let callID = invite.callID { ack.headers.add("Call-ID", callID) }
        ack.headers.add("CSeq", CSeq(sequence: invite.cseq?.sequence ?? 1, method: .ack).description)
        return ack
    }

    /// RFC 4028 §8.1: a Session-Expires below our Min-SE gets 422 with our Min-SE.
    private func checkSessionTimer(_ request: SIPRequest) -> (Int, [SIPHeader])? {
        guard configuration.sessionTimers.enabled, let value = request.headers["Session-Expires"] else { return nil }
        guard let interval = Int(value.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? "") else {
            return (400, [])
        }
        if interval < configuration.sessionTimers.minSE {
            return (422, [SIPHeader(name: "Min-SE", value: "\(configuration.sessionTimers.minSE)")])
        }
        return nil
    }

    // MARK: Sending

    func addServerHeaders(_ response: inout SIPResponse) {
        if response.headers["Server"] == nil { response.headers.add("Server", configuration.userAgent) }
    }

    /// Answers a request outside any transaction (malformed or incomplete requests, and
    /// requests refused by the source guard, which must not cost a transaction).
    private func reply(_ request: SIPRequest, _ code: Int, reason: String, flow: SIPFlow, headers: [SIPHeader] = []) {
        if code == 400 { badRequests.increment() }
        var response = SIPResponse(to: request, statusCode: code, reason: reason, toTag: request.to?.tag == nil ? randomToken() : nil)
        for h in headers { response.headers.add(h.name, h.value) }
        addServerHeaders(&response)
        sendResponse(response, flow: flow)
    }

    func respond(
        _ entry: ServerNonInviteEntry, _ code: Int, reason: String? = nil, headers: [SIPHeader] = [], toTag: String? = nil,
        body: [UInt8] = []
    ) {
        var response = SIPResponse(
            to: entry.request, statusCode: code, reason: reason,
            toTag: toTag ?? (entry.request.to?.tag == nil ? randomToken() : nil))
        for h in headers { response.headers.add(h.name, h.value) }
        if !body.isEmpty {
            response.body = body
            response.headers.set("Content-Length", "\(body.count)")
        }
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
        let branch = TransactionKey.magicCookie + randomToken()
        let request = withVia(request, branch: branch, flow: flow)
        let entry = ClientNonInviteEntry(
            branch: branch, flow: flow, completion: completion,
            machine: ClientNonInviteTransaction(request: request, transport: flow.isReliable ? .reliable : .unreliable, timers: configuration.timers))
        clientTransactions[branch] = entry
        perform(entry.machine.start(), entry: entry)
    }

    enum InviteClientEvent {
        case provisional(SIPResponse)
        case success(SIPResponse)
        /// A final non-2xx response, or a timeout (408) or transport failure (503) without one.
        case failure(Int, SIPResponse?)
    }

    /// Sends an INVITE in a new client INVITE transaction (§17.1.1) with a fresh Via.
    @discardableResult
    func sendInvite(_ request: SIPRequest, flow: SIPFlow, handler: @escaping (InviteClientEvent) -> Void) -> ClientInviteEntry {
        eventLoop.assertInEventLoop()
        let branch = TransactionKey.magicCookie + randomToken()
        let request = withVia(request, branch: branch, flow: flow)
        let entry = ClientInviteEntry(
            branch: branch, flow: flow, handler: handler,
            machine: ClientInviteTransaction(request: request, transport: flow.isReliable ? .reliable : .unreliable, timers: configuration.timers))
        clientInvites[branch] = entry
        perform(entry.machine.start(), entry: entry)
        return entry
    }

    /// §9.1: CANCEL for a pending INVITE: same Request-URI, Call-ID, From, To, CSeq number
    /// and the INVITE's Via branch; its own non-INVITE transaction.
    func cancel(_ entry: ClientInviteEntry) {
        let invite = entry.machine.request
        guard entry.machine.phase == .proceeding || entry.machine.phase == .calling else { return }
        var cancel = SIPRequest(method: .cancel, uri: invite.uri)
        if let via = invite.headers.values("Via").first { cancel.headers.add("Via", via) }
        cancel.headers.add("Max-Forwards", "70")
        for route in invite.headers.values("Route") { cancel.headers.add("Route", route) }
        for name in ["From", "To", "Call-ID"] { if let v = invite.headers[name] { cancel.headers.add(name, v) } }
        cancel.headers.add("CSeq", CSeq(sequence: invite.cseq?.sequence ?? 1, method: .cancel).description)
        let cancelEntry = ClientNonInviteEntry(
            branch: entry.branch + "-cancel", flow: entry.flow, completion: { _ in },
            machine: ClientNonInviteTransaction(request: cancel, transport: entry.flow.isReliable ? .reliable : .unreliable, timers: configuration.timers))
        // Responses to the CANCEL carry the INVITE's branch; they are matched by CSeq method.
        cancelTransactions[entry.branch] = cancelEntry
        perform(cancelEntry.machine.start(), entry: cancelEntry)
    }

    func abandon(_ entry: ClientInviteEntry) {
        perform(entry.machine.abandon(), entry: entry)
    }

    /// Sends a request outside any transaction: the ACK for a 2xx (§13.2.2.4), with a new Via.
    func sendStateless(_ request: SIPRequest, flow: SIPFlow) {
        transmit(withVia(request, branch: TransactionKey.magicCookie + randomToken(), flow: flow), flow: flow)
    }

    private func withVia(_ request: SIPRequest, branch: String, flow: SIPFlow) -> SIPRequest {
        var request = request
        var via = Via(transport: flow.viaTransport, host: configuration.address, port: listeningPort(for: flow))
        via.branch = branch
        via.rport = .some(nil)
        var headers = SIPHeaders()
        headers.add("Via", via.description)
        for h in request.headers where h.name.caseInsensitiveCompare("Via") != .orderedSame { headers.add(h.name, h.value) }
        request.headers = headers
        return request
    }

    /// The port we listen on for a flow's transport (Via sent-by, Contact).
    func listeningPort(for flow: SIPFlow) -> Int {
        if case .stream(_, .tls) = flow, let tls = configuration.tls { return tls.port }
        return configuration.port
    }

    /// Our Contact URI for messages on `flow` (§8.1.1.8): reachable back on the same transport.
    func contactURI(user: String?, flow: SIPFlow) -> SIPURI {
        var uri = SIPURI(scheme: "sip", user: user, host: configuration.address, port: listeningPort(for: flow))
        switch flow {
        case .stream(_, .tls): uri.scheme = "sips"
        case .stream(_, .tcp): uri.parameters.append(URIParameter(name: "transport", value: "tcp"))
        case .datagram: break
        }
        return uri
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
            case .passACKToTU:
                if let session = entry.session { session.receivedACK(entry.request) } else { entry.dialogSession?.receivedDialogACK(entry.request) }
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
                if clientTransactions[entry.branch] === entry { clientTransactions.removeValue(forKey: entry.branch) }
                for (key, value) in cancelTransactions where value === entry { cancelTransactions.removeValue(forKey: key) }
            }
        }
    }

    private func perform(_ actions: [ClientInviteTransaction<SIPRequest, SIPRequest>.Action], entry: ClientInviteEntry) {
        for action in actions {
            switch action {
            case .send(let request): transmit(request, flow: entry.flow)
            case .sendACK(let ack): transmit(ack, flow: entry.flow)
            case .startTimer(let timer, let after):
                entry.timers.start(timer, after: after, on: eventLoop) { [weak self, weak entry] in
                    guard let self, let entry else { return }
                    self.perform(entry.machine.timerFired(timer), entry: entry)
                }
            case .cancelTimer(let timer): entry.timers.cancel(timer)
            case .passResponseToTU:
                guard let response = entry.lastResponse else { break }
                switch response.statusCode {
                case ..<200: entry.handler(.provisional(response))
                case 200..<300: entry.handler(.success(response))
                default: entry.handler(.failure(response.statusCode, response))
                }
            case .timeout: entry.handler(.failure(408, nil))
            case .transportError: entry.handler(.failure(503, nil))
            case .terminated:
                entry.timers.cancelAll()
                clientInvites.removeValue(forKey: entry.branch)
                cancelTransactions.removeValue(forKey: entry.branch)?.timers.cancelAll()
            }
        }
    }

    // MARK: Dialogs

    func register(_ session: InviteSession) {
        guard let key = session.dialogKey else { return }
        dialogs[key] = session
    }

    func unregister(_ session: InviteSession) {
        guard let key = session.dialogKey else { return }
        if dialogs[key] === session { dialogs.removeValue(forKey: key) }
    }

    /// Starts an outgoing call (UAC). Set its event handler, then call `start()`.
    public func makeCall(_ call: OutgoingCall) -> EventLoopFuture<InviteClientSession> {
        eventLoop.submit { InviteClientSession(endpoint: self, call: call) }
    }

    /// Sends OPTIONS outside a dialog (qualify pings, RFC 3261 §11) and reports the outcome.
    func sendOPTIONS(to uri: SIPURI, flow: SIPFlow, completion: @escaping (ClientResult) -> Void) {
        var request = SIPRequest(method: .options, uri: uri)
        request.headers.add("Max-Forwards", "70")
        request.headers.add("From", "<sip:hotline@\(configuration.address)>;tag=\(randomToken())")
        request.headers.add("To", "<\(uri.description)>")
        request.headers.add("Call-ID", randomToken() + "@" + configuration.address)
        request.headers.add("CSeq", "1 OPTIONS")
        request.headers.add("User-Agent", configuration.userAgent)
        sendRequest(request, flow: flow, completion: completion)
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
    /// The dialog a re-INVITE belongs to.
    weak var dialogSession: InviteSession?

    init(key: TransactionKey, request: SIPRequest, flow: SIPFlow, machine: ServerInviteTransaction<SIPResponse>) {
        self.key = key
        self.request = request
        self.flow = flow
        self.machine = machine
    }
}

final class ClientInviteEntry: @unchecked Sendable {  // confined to the endpoint's loop
    let branch: String
    let flow: SIPFlow
    var machine: ClientInviteTransaction<SIPRequest, SIPRequest>
    var timers = TransactionTimerTable()
    var lastResponse: SIPResponse?
    let handler: (SIPEndpoint.InviteClientEvent) -> Void

    init(branch: String, flow: SIPFlow, handler: @escaping (SIPEndpoint.InviteClientEvent) -> Void,
         machine: ClientInviteTransaction<SIPRequest, SIPRequest>) {
        self.branch = branch
        self.flow = flow
        self.handler = handler
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
