import Foundation
import Logging
import Metrics
import NIOCore
import SIPMessages

/// A SIP account: an agent seat's phone registers and calls with it.
public struct SIPAccount: Sendable {
    public var name: String
    public var secret: AccountSecret
    /// Networks the account may register and call from; empty means anywhere.
    public var allowedNetworks: [IPNetwork]
    public var displayName: String?

    public init(name: String, secret: AccountSecret, allowedNetworks: [IPNetwork] = [], displayName: String? = nil) {
        self.name = name
        self.secret = secret
        self.allowedNetworks = allowedNetworks
        self.displayName = displayName
    }
}

/// Where accounts come from (the config file, the store). Called on the SIP loop: keep it fast.
public protocol AccountDirectory: Sendable {
    func account(named name: String) -> SIPAccount?
}

/// A carrier peer: calls from its networks need no digest; our outbound calls go to it.
public struct TrunkPeer: Sendable {
    public var name: String
    /// Sources recognised as this trunk (addresses or CIDR blocks).
    public var networks: [IPNetwork]
    /// Where our calls to the trunk go (`host` must be an IP literal; DNS is not resolved).
    public var host: String?
    public var port: Int
    /// RFC 3261 §8.1.2: a loose route to preload (the carrier's SBC or our Kamailio).
    public var outboundProxy: SIPURI?
    /// Credentials for the trunk's digest challenges on our outbound calls.
    public var username: String?
    public var password: String?
    /// The number we present as caller on outbound calls (From user).
    public var callerID: String?

    public init(
        name: String, networks: [IPNetwork], host: String? = nil, port: Int = 5060, outboundProxy: SIPURI? = nil,
        username: String? = nil, password: String? = nil, callerID: String? = nil
    ) {
        self.name = name
        self.networks = networks
        self.host = host
        self.port = port
        self.outboundProxy = outboundProxy
        self.username = username
        self.password = password
        self.callerID = callerID
    }
}

public struct RegistrarSettings: Sendable {
    public enum UnknownSources: String, Sendable { case challenge, refuse }
    public var realm = "hotline"
    public var policy = RegistrarPolicy()
    public var nonceLifetime: Duration = .seconds(300)
    /// Digest algorithms offered, one challenge each, in this order (RFC 8760 §2.4: strongest
    /// first; some older clients only read the first challenge).
    public var algorithms: [DigestAlgorithm] = [.sha256, .md5]
    /// OPTIONS to every registered contact this often (zero: never).
    public var qualifyInterval: Duration = .seconds(30)
    /// A contact that does not answer a ping within this is unreachable (not Timer F's 32 s).
    public var qualifyTimeout: Duration = .seconds(5)
    public var sourceGuard = SourceGuard.Policy()
    public var admission = AdmissionControl.Policy()
    /// INVITEs neither from a trunk nor with credentials: 401 challenge, or 403.
    public var unknownSources: UnknownSources = .challenge
    /// The numbers (DIDs) trunks may call without credentials; anything else (an extension,
    /// an outside number) is only for authenticated accounts.
    public var lines: Set<String> = []
    public init() {}
}

/// A registered contact as the call layer sees it.
public struct RegisteredContact: Sendable {
    public var account: String
    public var uri: SIPURI
    public var flow: SIPFlow
    public var reachable: Bool
    public var userAgent: String?
}

/// The registrar and location service (RFC 3261 §10), digest authentication of REGISTER and
/// INVITE (RFC 7616, RFC 8760), and the per-source defences in front of them: rate limits,
/// blocking after repeated failed digests, overload admission of new calls. Unknown and known
/// users get the same answers, so scanners learn nothing about which extensions exist.
///
/// Confined to the endpoint's event loop.
public final class Registrar: @unchecked Sendable {
    public enum CallerIdentity: Sendable, Equatable {
        case trunk(String)
        case account(String)
        case unauthenticated
    }

    enum Admission {
        case allow
        case drop
        case rateLimited(retryAfter: Int)
    }

    enum CallAuthorization {
        case allowed(CallerIdentity)
        case respond(Int, String?, [SIPHeader])
    }

    private unowned let endpoint: SIPEndpoint
    public let settings: RegistrarSettings
    private let accounts: AccountDirectory
    public let trunks: [TrunkPeer]
    private let logger: Logger
    private var location = LocationService<SIPFlow>()
    private var verifier: DigestVerifier
    private var sourceGuard: SourceGuard
    private var admission: AdmissionControl
    private var housekeeping: RepeatedTask?
    private var qualifyTask: RepeatedTask?

    private let registrations = Counter(label: "hotline_sip_registrations_total", dimensions: [("outcome", "ok")])
    private let challenges = Counter(label: "hotline_sip_auth_challenges_total")
    private let authFailures = Counter(label: "hotline_sip_auth_failures_total")
    private let blockedSources = Counter(label: "hotline_sip_sources_blocked_total")
    private let overloadRefusals = Counter(label: "hotline_calls_overload_refused_total")
    private let bindingsGauge = Gauge(label: "hotline_sip_registered_contacts")

    public init(endpoint: SIPEndpoint, settings: RegistrarSettings, accounts: AccountDirectory, trunks: [TrunkPeer], logger: Logger) {
        self.endpoint = endpoint
        self.settings = settings
        self.accounts = accounts
        self.trunks = trunks
        self.logger = logger
        var secret = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in secret.indices { secret[i] = UInt8.random(in: .min ... .max, using: &rng) }
        self.verifier = DigestVerifier(
            realm: settings.realm, issuer: NonceIssuer(secret: secret, lifetime: settings.nonceLifetime),
            algorithms: settings.algorithms)
        self.sourceGuard = SourceGuard(policy: settings.sourceGuard)
        self.admission = AdmissionControl(policy: settings.admission)
    }

    /// Starts expiry and qualify timers.
    public func start() {
        housekeeping = endpoint.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { [weak self] _ in
            guard let self else { return }
            let expired = self.location.expire(now: Self.now())
            for binding in expired {
                self.logger.info("registration expired", metadata: ["account": "\(binding.aor)", "contact": "\(binding.contact.uri)"])
            }
            self.bindingsGauge.record(self.location.count)
        }
        if settings.qualifyInterval > .zero {
            let interval = TimeAmount(settings.qualifyInterval)
            qualifyTask = endpoint.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
                self?.qualify()
            }
        }
    }

    func stop() {
        housekeeping?.cancel()
        qualifyTask?.cancel()
    }

    static func now() -> Double { Date().timeIntervalSince1970 }
    private static func nowSeconds() -> UInt64 { UInt64(Date().timeIntervalSince1970) }

    // MARK: Lookups for the call layer (any thread)

    /// The reachable contacts of an account, best first.
    public func contacts(of account: String) -> EventLoopFuture<[RegisteredContact]> {
        endpoint.eventLoop.submit { [self] in
            location.bindings(for: account, now: Self.now()).compactMap { binding in
                if case .stream(let channel, _) = binding.flow, !channel.isActive { return nil }
                return RegisteredContact(
                    account: binding.aor, uri: binding.contact.uri, flow: binding.flow, reachable: binding.reachable,
                    userAgent: binding.userAgent)
            }
        }
    }

    public func registeredCount() -> EventLoopFuture<Int> {
        endpoint.eventLoop.submit { [self] in location.count }
    }

    public func isAccount(_ name: String) -> Bool { accounts.account(named: name) != nil }

    public func trunk(named name: String) -> TrunkPeer? { trunks.first { $0.name == name } }

    // MARK: Defences (on the loop)

    private func sourceIP(_ flow: SIPFlow) -> String { flow.remoteAddress?.ipAddress ?? "" }

    func admit(_ request: SIPRequest, flow: SIPFlow) -> Admission {
        let requestClass: SourceGuard.RequestClass
        switch request.method {
        case .invite where request.to?.tag == nil: requestClass = .invite
        case .register: requestClass = .register
        default: requestClass = .other
        }
        switch sourceGuard.admit(source: sourceIP(flow), class: requestClass, now: Self.now()) {
        case .allow: return .allow
        case .blocked: return .drop
        case .rateLimited(let retryAfter): return .rateLimited(retryAfter: retryAfter)
        }
    }

    private func recordFailure(_ flow: SIPFlow, user: String) {
        authFailures.increment()
        let ip = sourceIP(flow)
        if sourceGuard.recordAuthFailure(source: ip, now: Self.now()) {
            blockedSources.increment()
            logger.warning(
                "source blocked after failed digest authentications",
                metadata: ["source": "\(ip)", "user": "\(user)", "for-seconds": "\(Int(settings.sourceGuard.blockDuration))"])
        }
    }

    // MARK: INVITE authorization

    func authorizeCall(_ request: SIPRequest, flow: SIPFlow, pendingCalls: Int) -> CallAuthorization {
        switch admission.admitCall(activeCalls: pendingCalls, now: Self.now()) {
        case .admit: break
        case .overloaded(let retryAfter, let reason):
            overloadRefusals.increment()
            return .respond(503, "Service Unavailable (\(reason))", [SIPHeader(name: "Retry-After", value: "\(retryAfter)")])
        }
        let ip = sourceIP(flow)
        let hasCredentials = request.headers["Authorization"] != nil
        let trunk = trunks.first { t in t.networks.contains { $0.contains(ip) } }
        // Trunks reach our lines (DIDs) without credentials; other numbers from a trunk get the
        // call layer's 404, whether or not an account of that name exists, so a scanner on a
        // trunk's network learns nothing. A registered phone sharing a trunk's network (the
        // loopback demo) is recognised by the flow it registered from and challenged.
        if !hasCredentials, let trunk {
            let source = flow.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
            let isLine = settings.lines.contains(request.uri.user ?? "")
            if isLine || !location.containsBinding(now: Self.now(), where: { $0.source == source }) {
                return .allowed(.trunk(trunk.name))
            }
        }
        if !hasCredentials, trunk == nil, settings.unknownSources == .refuse {
            return .respond(403, "Forbidden", [])
        }
        switch authenticate(request, flow: flow) {
        case .success(let user):
            return .allowed(.account(user))
        case .challenge(let stale):
            return .respond(401, "Unauthorized", challengeHeaders(stale: stale))
        case .failure:
            return .respond(403, "Forbidden", [])
        }
    }

    // MARK: REGISTER (on the loop)

    func receivedREGISTER(_ request: SIPRequest, entry: ServerNonInviteEntry) {
        guard let aor = request.to?.uri.user, !aor.isEmpty else {
            endpoint.respond(entry, 400, reason: "Bad Request (no user in To)")
            return
        }
        let user: String
        switch authenticate(request, flow: entry.flow) {
        case .challenge(let stale):
            endpoint.respond(entry, 401, reason: "Unauthorized", headers: challengeHeaders(stale: stale))
            return
        case .failure:
            endpoint.respond(entry, 403, reason: "Forbidden")
            return
        case .success(let name):
            user = name
        }
        // §10.3 step 6: an account registers only its own address of record.
        guard user == aor else {
            endpoint.respond(entry, 403, reason: "Forbidden")
            return
        }
        let source = entry.flow.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        let now = Self.now()
        switch location.register(aor: aor, request: request, flow: contactFlow(request, entry.flow), source: source, now: now, policy: settings.policy) {
        case .ok(let bindings, _):
            registrations.increment()
            bindingsGauge.record(location.count)
            var headers = location.contactHeaderValues(bindings, now: now).map { SIPHeader(name: "Contact", value: $0) }
            headers.append(SIPHeader(name: "Date", value: Self.httpDate()))
            headers.append(SIPHeader(name: "Allow", value: allowedMethods))
            logger.debug(
                "registered",
                metadata: ["account": "\(aor)", "contacts": "\(bindings.count)", "source": "\(source)", "flow": "\(entry.flow)"])
            endpoint.respond(entry, 200, headers: headers)
        case .intervalTooBrief(let minExpires):
            endpoint.respond(entry, 423, reason: "Interval Too Brief", headers: [SIPHeader(name: "Min-Expires", value: "\(minExpires)")])
        case .invalid(let reason):
            endpoint.respond(entry, 400, reason: "Bad Request (\(reason))")
        case .outOfOrder:
            endpoint.respond(entry, 500, reason: "Server Internal Error (out-of-order CSeq)")
        case .tooManyContacts(let limit):
            endpoint.respond(entry, 403, reason: "Forbidden (more than \(limit) contacts)")
        }
    }

    /// How to reach the registered contact (RFC 3261 §10.3 with the usual NAT handling):
    /// stream flows are reused as they are; over UDP, a Contact naming the address the
    /// REGISTER came from is reached at its own port, any other Contact (a private address
    /// behind NAT) through the REGISTER's source address and port.
    private func contactFlow(_ request: SIPRequest, _ flow: SIPFlow) -> SIPFlow {
        guard case .datagram(let source) = flow, let contact = request.contacts.first?.uri,
            contact.host == source.ipAddress,
            let address = try? SocketAddress(ipAddress: contact.host, port: contact.port ?? 5060)
        else { return flow }
        return .datagram(remote: address)
    }

    private enum AuthenticationResult {
        case success(String)
        case challenge(stale: Bool)
        case failure
    }

    /// Digest authentication of a request; unknown users, users outside their allowed networks
    /// and wrong passwords fail alike.
    private func authenticate(_ request: SIPRequest, flow: SIPFlow) -> AuthenticationResult {
        guard let header = request.headers["Authorization"] else {
            challenges.increment()
            return .challenge(stale: false)
        }
        guard let credentials = try? DigestCredentials.parse(header) else {
            recordFailure(flow, user: "?")
            return .failure
        }
        let ip = sourceIP(flow)
        let outcome = verifier.verify(
            credentials: credentials, method: request.method.name, requestURI: nil,
            secretFor: { [accounts] name in
                guard let account = accounts.account(named: name) else { return nil }
                guard account.allowedNetworks.isEmpty || account.allowedNetworks.contains(where: { $0.contains(ip) }) else { return nil }
                return account.secret
            },
            now: Self.nowSeconds())
        switch outcome {
        case .authenticated:
            sourceGuard.recordAuthSuccess(source: ip)
            return .success(credentials.username)
        case .stale:
            challenges.increment()
            return .challenge(stale: true)
        case .rejected(let reason):
            logger.notice("digest authentication failed", metadata: ["source": "\(ip)", "user": "\(credentials.username)", "reason": "\(reason)"])
            recordFailure(flow, user: credentials.username)
            return .failure
        }
    }

    private func challengeHeaders(stale: Bool) -> [SIPHeader] {
        verifier.challenges(stale: stale, now: Self.nowSeconds()).map { SIPHeader(name: "WWW-Authenticate", value: $0.description) }
    }

    // MARK: Qualify (RFC 3261 §11 OPTIONS pings)

    /// Pings every contact; one that has not answered within `qualifyTimeout` (or whose
    /// transaction failed) is marked unreachable until it answers a later ping.
    private func qualify() {
        let now = Self.now()
        for binding in location.allBindings(now: now) {
            let aor = binding.aor
            let contact = binding.contact.uri
            let ping = QualifyPing()
            let mark: (Bool) -> Void = { [weak self] reachable in
                guard let self, !ping.done else { return }
                ping.done = true
                ping.deadline?.cancel()
                if reachable != binding.reachable {
                    self.logger.notice(
                        reachable ? "contact reachable again" : "contact unreachable",
                        metadata: ["account": "\(aor)", "contact": "\(contact)"])
                }
                self.location.setReachable(aor: aor, contact: contact.description, reachable: reachable)
            }
            endpoint.sendOPTIONS(to: contact, flow: binding.flow) { result in
                switch result {
                case .response: mark(true)
                case .timeout, .transportError: mark(false)
                }
            }
            ping.deadline = endpoint.eventLoop.scheduleTask(in: TimeAmount(settings.qualifyTimeout)) { mark(false) }
        }
    }

    /// RFC 3261 §20.17 `Date` (RFC 1123 form, GMT), without a DateFormatter per REGISTER.
    static func httpDate(_ seconds: Int = Int(Date().timeIntervalSince1970)) -> String {
        let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]   // 1970-01-01 was a Thursday
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = seconds / 86_400
        let secs = seconds % 86_400
        // Civil date from days since the epoch (Howard Hinnant's algorithm).
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[day % 7]), \(two(d)) \(months[m - 1]) \(y) \(two(secs / 3600)):\(two(secs % 3600 / 60)):\(two(secs % 60)) GMT"
    }
}

/// One qualify ping's state (on the endpoint's loop).
private final class QualifyPing {
    var done = false
    var deadline: Scheduled<Void>?
}
