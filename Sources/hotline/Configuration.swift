import Foundation
import Recording
import SDP
import SIPMessages
import SIPStack
import Yams

/// The daemon's configuration file (`hotline.yaml`), documented in docs/configuration.md.
/// Every key is optional; missing keys take the defaults below. Unknown keys are refused so a
/// typo never silently falls back to a default.
struct HotlineConfiguration: Decodable, Sendable {
    struct SIP: Decodable, Sendable {
        var address = "127.0.0.1"
        var port = 5060
        var udp = true
        var tcp = true
        var tls: TLS?
        /// RFC 4028: Session-Expires we ask for; 0 turns session timers off.
        var sessionExpires = 1800
        var minSE = 90
        enum CodingKeys: String, CodingKey, CaseIterable {
            case address, port, udp, tcp, tls, sessionExpires = "session-expires", minSE = "min-se"
        }
    }
    struct TLS: Decodable, Sendable {
        var port = 5061
        var certificate: String
        var privateKey: String
        enum CodingKeys: String, CodingKey, CaseIterable { case port, certificate, privateKey = "private-key" }
    }
    struct Registrar: Decodable, Sendable {
        var realm = "hotline"
        var minExpires = 60
        var maxExpires = 3600
        var defaultExpires = 3600
        var maxContacts = 10
        var nonceLifetime = 300.0
        var qualifyInterval = 30.0
        var algorithms = ["SHA-256", "MD5"]
        enum CodingKeys: String, CodingKey, CaseIterable {
            case algorithms, realm, minExpires = "min-expires", maxExpires = "max-expires", defaultExpires = "default-expires",
                maxContacts = "max-contacts", nonceLifetime = "nonce-lifetime", qualifyInterval = "qualify-interval"
        }
    }
    /// One account, or a numbered range of them sharing a password (`range: 1001-1010`).
    struct Account: Decodable, Sendable {
        var name: String?
        var range: String?
        var password: String?
        var ha1MD5: String?
        var ha1SHA256: String?
        var networks: [String] = []
        var displayName: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, range, password, ha1MD5 = "ha1-md5", ha1SHA256 = "ha1-sha256", networks, displayName = "display-name"
        }
    }
    struct Trunk: Decodable, Sendable {
        var name: String
        var networks: [String] = []
        var host: String?
        var port = 5060
        var outboundProxy: String?
        var username: String?
        var password: String?
        var callerID: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, networks, host, port, outboundProxy = "outbound-proxy", username, password, callerID = "caller-id"
        }
    }
    struct Security: Decodable, Sendable {
        var unknownSources = "challenge"
        var invitesPerSecond = 20.0
        var inviteBurst = 40
        var registersPerSecond = 10.0
        var registerBurst = 20
        var maxAuthFailures = 10
        var failureWindow = 60.0
        var blockDuration = 600.0
        var exempt: [String] = []
        var maxCalls = 2000
        var maxCallRate = 200.0
        enum CodingKeys: String, CodingKey, CaseIterable {
            case unknownSources = "unknown-sources", invitesPerSecond = "invites-per-second", inviteBurst = "invite-burst",
                registersPerSecond = "registers-per-second", registerBurst = "register-burst", maxAuthFailures = "max-auth-failures",
                failureWindow = "failure-window", blockDuration = "block-duration", exempt, maxCalls = "max-calls",
                maxCallRate = "max-call-rate"
        }
    }
    struct HTTP: Decodable, Sendable {
        var address = "127.0.0.1"
        var port = 8080
        /// Bearer token for every route but /v1/health and /openapi.yaml; nil: no token.
        var token: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case address, port, token }
    }
    struct Webhook: Decodable, Sendable {
        var url: String
        var secret: String?
        var batchSize = 100
        var timeout = 5.0
        enum CodingKeys: String, CodingKey, CaseIterable { case url, secret, batchSize = "batch-size", timeout }
    }
    struct Events: Decodable, Sendable {
        /// CloudEvents `source` of this node; default `hotline://<host name>`.
        var source: String?
        var webhook: Webhook?
        var retentionDays = 7.0
        var cdrRetentionDays = 180.0
        enum CodingKeys: String, CodingKey, CaseIterable {
            case source, webhook, retentionDays = "retention-days", cdrRetentionDays = "cdr-retention-days"
        }
    }
    struct RTP: Decodable, Sendable {
        var address: String?
        var portMin = 20_000
        var portMax = 29_999
        var noMediaTimeout = 30.0
        enum CodingKeys: String, CodingKey, CaseIterable {
            case address, portMin = "port-min", portMax = "port-max", noMediaTimeout = "no-media-timeout"
        }
    }
    struct Prompts: Decodable, Sendable {
        var directory = "Prompts"
        enum CodingKeys: String, CodingKey, CaseIterable { case directory }
    }
    struct LineEntry: Decodable, Sendable {
        var number: String
        /// The caller's first language; nil: the dialplan's.
        var language: String?
        /// A dialplan file in the dialplans directory (`12345.yaml`, or its name `12345`).
        var dialplan: String
        enum CodingKeys: String, CodingKey, CaseIterable { case number, language, dialplan }
        /// The dialplan's name: the file name without `.yaml`.
        var dialplanName: String {
            let file = (dialplan as NSString).lastPathComponent
            return file.hasSuffix(".yaml") ? String(file.dropLast(5)) : file
        }
    }
    struct Dialplans: Decodable, Sendable {
        var directory = "Dialplans"
        /// Variables every dialplan run starts with (over the dialplan's own `variables`).
        var variables: [String: String] = [:]
        /// Seconds between checks of the dialplan and prompt folders for changes; 0: SIGHUP only.
        var watchInterval = 2.0
        enum CodingKeys: String, CodingKey, CaseIterable { case directory, variables, watchInterval = "watch-interval" }
    }
    struct Calls: Decodable, Sendable {
        var answerDelay = 0.0
        /// The trunk that numbers which are not accounts are dialled through.
        var outboundTrunk: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case answerDelay = "answer-delay", outboundTrunk = "outbound-trunk"
        }
    }
    struct Opus: Decodable, Sendable {
        var sampleRate = 16000
        var bitrate = 24000
        var fec = true
        var dtx = false
        var complexity = 5
        enum CodingKeys: String, CodingKey, CaseIterable { case sampleRate = "sample-rate", bitrate, fec, dtx, complexity }
    }
    struct Media: Decodable, Sendable {
        /// Codecs we accept and offer, in our order of preference.
        var codecs = ["PCMU", "PCMA", "opus", "G722"]
        var opus = Opus()
        enum CodingKeys: String, CodingKey, CaseIterable { case codecs, opus }
    }
    struct Recording: Decodable, Sendable {
        var enabled = false
        /// Relative paths are under `data-dir`.
        var directory = "recordings"
        var format = "wav"
        var sampleRate = 8000
        /// Seconds between fsyncs of a recording (what a power cut may lose; a killed
        /// process loses at most the last second).
        var syncInterval = 10.0
        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled, directory, format, sampleRate = "sample-rate", syncInterval = "sync-interval"
        }
    }
    struct Shutdown: Decodable, Sendable {
        var drainTimeout = 30.0
        enum CodingKeys: String, CodingKey, CaseIterable { case drainTimeout = "drain-timeout" }
    }

    var sip = SIP()
    var http = HTTP()
    var rtp = RTP()
    var prompts = Prompts()
    var lines: [LineEntry] = [LineEntry(number: "12345", dialplan: "12345.yaml")]
    var dialplans = Dialplans()
    var queues: [Queue] = []
    var agents: [Agent] = []
    var calls = Calls()
    var shutdown = Shutdown()
    var media = Media()
    var recording = Recording()
    var events = Events()
    var registrar = Registrar()
    var accounts: [Account] = []
    var trunks: [Trunk] = []
    var security = Security()
    var dataDir = "data"
    var logLevel = "info"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sip, http, rtp, prompts, lines, dialplans, queues, agents, calls, shutdown, media, recording, events, registrar, accounts, trunks, security,
            dataDir = "data-dir", logLevel = "log-level"
    }

    init() {}
}

/// Decodes only the keys present, keeping defaults for the rest.
extension HotlineConfiguration {
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try rejectUnknownKeys(decoder, CodingKeys.self)
        sip = try c.decodeIfPresent(SIP.self, forKey: .sip) ?? SIP()
        http = try c.decodeIfPresent(HTTP.self, forKey: .http) ?? HTTP()
        rtp = try c.decodeIfPresent(RTP.self, forKey: .rtp) ?? RTP()
        prompts = try c.decodeIfPresent(Prompts.self, forKey: .prompts) ?? Prompts()
        lines = try c.decodeIfPresent([LineEntry].self, forKey: .lines) ?? lines
        dialplans = try c.decodeIfPresent(Dialplans.self, forKey: .dialplans) ?? Dialplans()
        queues = try c.decodeIfPresent([Queue].self, forKey: .queues) ?? []
        agents = try c.decodeIfPresent([Agent].self, forKey: .agents) ?? []
        calls = try c.decodeIfPresent(Calls.self, forKey: .calls) ?? Calls()
        shutdown = try c.decodeIfPresent(Shutdown.self, forKey: .shutdown) ?? Shutdown()
        media = try c.decodeIfPresent(Media.self, forKey: .media) ?? Media()
        recording = try c.decodeIfPresent(Recording.self, forKey: .recording) ?? Recording()
        events = try c.decodeIfPresent(Events.self, forKey: .events) ?? Events()
        registrar = try c.decodeIfPresent(Registrar.self, forKey: .registrar) ?? Registrar()
        accounts = try c.decodeIfPresent([Account].self, forKey: .accounts) ?? []
        trunks = try c.decodeIfPresent([Trunk].self, forKey: .trunks) ?? []
        security = try c.decodeIfPresent(Security.self, forKey: .security) ?? Security()
        dataDir = try c.decodeIfPresent(String.self, forKey: .dataDir) ?? dataDir
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? logLevel
    }
}

extension HotlineConfiguration.SIP {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decodeIfPresent(String.self, forKey: .address) ?? address
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        udp = try c.decodeIfPresent(Bool.self, forKey: .udp) ?? udp
        tcp = try c.decodeIfPresent(Bool.self, forKey: .tcp) ?? tcp
        tls = try c.decodeIfPresent(HotlineConfiguration.TLS.self, forKey: .tls)
        sessionExpires = try c.decodeIfPresent(Int.self, forKey: .sessionExpires) ?? sessionExpires
        minSE = try c.decodeIfPresent(Int.self, forKey: .minSE) ?? minSE
    }
}

extension HotlineConfiguration.TLS {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        certificate = try c.decode(String.self, forKey: .certificate)
        privateKey = try c.decode(String.self, forKey: .privateKey)
    }
}

extension HotlineConfiguration.Registrar {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        realm = try c.decodeIfPresent(String.self, forKey: .realm) ?? realm
        minExpires = try c.decodeIfPresent(Int.self, forKey: .minExpires) ?? minExpires
        maxExpires = try c.decodeIfPresent(Int.self, forKey: .maxExpires) ?? maxExpires
        defaultExpires = try c.decodeIfPresent(Int.self, forKey: .defaultExpires) ?? defaultExpires
        maxContacts = try c.decodeIfPresent(Int.self, forKey: .maxContacts) ?? maxContacts
        nonceLifetime = try c.decodeIfPresent(Double.self, forKey: .nonceLifetime) ?? nonceLifetime
        qualifyInterval = try c.decodeIfPresent(Double.self, forKey: .qualifyInterval) ?? qualifyInterval
        algorithms = try c.decodeIfPresent([String].self, forKey: .algorithms) ?? algorithms
    }
}

extension HotlineConfiguration.Account {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        range = try c.decodeIfPresent(String.self, forKey: .range)
        password = try c.decodeIfPresent(String.self, forKey: .password)
        ha1MD5 = try c.decodeIfPresent(String.self, forKey: .ha1MD5)
        ha1SHA256 = try c.decodeIfPresent(String.self, forKey: .ha1SHA256)
        networks = try c.decodeIfPresent([String].self, forKey: .networks) ?? []
        displayName = try c.decodeIfPresent(String.self, forKey: .displayName)
    }

    /// The account names this entry defines: `name`, or every number of `range` (`1001-1010`).
    func names() throws -> [String] {
        if let name, range == nil { return [name] }
        guard name == nil, let range else { throw ConfigurationError.invalid(path: "accounts", reason: "each account needs exactly one of 'name' or 'range'") }
        let bounds = range.split(separator: "-").map { String($0) }
        guard bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), low <= high, high - low < 10_000,
            bounds[0].count == bounds[1].count
        else {
            throw ConfigurationError.invalid(path: "accounts", reason: "range '\(range)' must be FIRST-LAST with equal digit counts, e.g. 1001-1010")
        }
        return (low...high).map { String(format: "%0\(bounds[0].count)d", $0) }
    }
}

extension HotlineConfiguration.Trunk {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        networks = try c.decodeIfPresent([String].self, forKey: .networks) ?? []
        host = try c.decodeIfPresent(String.self, forKey: .host)
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        outboundProxy = try c.decodeIfPresent(String.self, forKey: .outboundProxy)
        username = try c.decodeIfPresent(String.self, forKey: .username)
        password = try c.decodeIfPresent(String.self, forKey: .password)
        callerID = try c.decodeIfPresent(String.self, forKey: .callerID)
    }
}

extension HotlineConfiguration.Security {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        unknownSources = try c.decodeIfPresent(String.self, forKey: .unknownSources) ?? unknownSources
        invitesPerSecond = try c.decodeIfPresent(Double.self, forKey: .invitesPerSecond) ?? invitesPerSecond
        inviteBurst = try c.decodeIfPresent(Int.self, forKey: .inviteBurst) ?? inviteBurst
        registersPerSecond = try c.decodeIfPresent(Double.self, forKey: .registersPerSecond) ?? registersPerSecond
        registerBurst = try c.decodeIfPresent(Int.self, forKey: .registerBurst) ?? registerBurst
        maxAuthFailures = try c.decodeIfPresent(Int.self, forKey: .maxAuthFailures) ?? maxAuthFailures
        failureWindow = try c.decodeIfPresent(Double.self, forKey: .failureWindow) ?? failureWindow
        blockDuration = try c.decodeIfPresent(Double.self, forKey: .blockDuration) ?? blockDuration
        exempt = try c.decodeIfPresent([String].self, forKey: .exempt) ?? []
        maxCalls = try c.decodeIfPresent(Int.self, forKey: .maxCalls) ?? maxCalls
        maxCallRate = try c.decodeIfPresent(Double.self, forKey: .maxCallRate) ?? maxCallRate
    }
}

extension HotlineConfiguration.HTTP {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decodeIfPresent(String.self, forKey: .address) ?? address
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        token = try c.decodeIfPresent(String.self, forKey: .token)
    }
}

extension HotlineConfiguration.Webhook {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        secret = try c.decodeIfPresent(String.self, forKey: .secret)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? batchSize
        timeout = try c.decodeIfPresent(Double.self, forKey: .timeout) ?? timeout
    }
}

extension HotlineConfiguration.Events {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decodeIfPresent(String.self, forKey: .source)
        webhook = try c.decodeIfPresent(HotlineConfiguration.Webhook.self, forKey: .webhook)
        retentionDays = try c.decodeIfPresent(Double.self, forKey: .retentionDays) ?? retentionDays
        cdrRetentionDays = try c.decodeIfPresent(Double.self, forKey: .cdrRetentionDays) ?? cdrRetentionDays
    }
}

extension HotlineConfiguration.RTP {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decodeIfPresent(String.self, forKey: .address)
        portMin = try c.decodeIfPresent(Int.self, forKey: .portMin) ?? portMin
        portMax = try c.decodeIfPresent(Int.self, forKey: .portMax) ?? portMax
        noMediaTimeout = try c.decodeIfPresent(Double.self, forKey: .noMediaTimeout) ?? noMediaTimeout
    }
}

extension HotlineConfiguration.Prompts {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? directory
    }
}

extension HotlineConfiguration.LineEntry {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        number = try c.decode(String.self, forKey: .number)
        language = try c.decodeIfPresent(String.self, forKey: .language)
        dialplan = try c.decode(String.self, forKey: .dialplan)
    }
}

extension HotlineConfiguration.Dialplans {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? directory
        variables = try c.decodeIfPresent([String: String].self, forKey: .variables) ?? variables
        watchInterval = try c.decodeIfPresent(Double.self, forKey: .watchInterval) ?? watchInterval
    }
}

extension HotlineConfiguration.Calls {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        answerDelay = try c.decodeIfPresent(Double.self, forKey: .answerDelay) ?? answerDelay
        outboundTrunk = try c.decodeIfPresent(String.self, forKey: .outboundTrunk)
    }
}

extension HotlineConfiguration.Opus {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sampleRate = try c.decodeIfPresent(Int.self, forKey: .sampleRate) ?? sampleRate
        bitrate = try c.decodeIfPresent(Int.self, forKey: .bitrate) ?? bitrate
        fec = try c.decodeIfPresent(Bool.self, forKey: .fec) ?? fec
        dtx = try c.decodeIfPresent(Bool.self, forKey: .dtx) ?? dtx
        complexity = try c.decodeIfPresent(Int.self, forKey: .complexity) ?? complexity
    }
}

extension HotlineConfiguration.Media {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        codecs = try c.decodeIfPresent([String].self, forKey: .codecs) ?? codecs
        opus = try c.decodeIfPresent(HotlineConfiguration.Opus.self, forKey: .opus) ?? opus
    }

    /// The configured codecs by rtpmap name (case-insensitive); nil for an unknown name.
    var audioCodecs: [AudioCodec?] {
        codecs.map { name in AudioCodec.allCases.first { $0.encodingName.lowercased() == name.lowercased() } }
    }
}

extension HotlineConfiguration.Recording {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? directory
        format = try c.decodeIfPresent(String.self, forKey: .format) ?? format
        sampleRate = try c.decodeIfPresent(Int.self, forKey: .sampleRate) ?? sampleRate
        syncInterval = try c.decodeIfPresent(Double.self, forKey: .syncInterval) ?? syncInterval
    }
}

extension HotlineConfiguration.Shutdown {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        drainTimeout = try c.decodeIfPresent(Double.self, forKey: .drainTimeout) ?? drainTimeout
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

func rejectUnknownKeys<K: CodingKey & CaseIterable>(_ decoder: Decoder, _ keys: K.Type) throws {
    let known = Set(K.allCases.map(\.stringValue))
    let container = try decoder.container(keyedBy: AnyKey.self)
    for key in container.allKeys where !known.contains(key.stringValue) {
        throw DecodingError.dataCorruptedError(
            forKey: key, in: container,
            debugDescription: "unknown key '\(key.stringValue)' (known: \(known.sorted().joined(separator: ", ")))")
    }
}

enum ConfigurationError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalid(path: String, reason: String)

    var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .invalid(let p, let r): return "\(p): \(r)"
        }
    }
}

extension HotlineConfiguration {
    static func load(path: String) throws -> HotlineConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError.unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        do {
            return try YAMLDecoder().decode(HotlineConfiguration.self, from: text)
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigurationError.invalid(path: path, reason: describe(context))
        } catch let DecodingError.typeMismatch(_, context) {
            throw ConfigurationError.invalid(path: path, reason: describe(context))
        } catch let DecodingError.keyNotFound(key, context) {
            throw ConfigurationError.invalid(path: path, reason: "\(describe(context)): missing '\(key.stringValue)'")
        } catch let DecodingError.valueNotFound(_, context) {
            throw ConfigurationError.invalid(path: path, reason: describe(context))
        } catch {
            throw ConfigurationError.invalid(path: path, reason: "\(error)")
        }
    }

    private static func describe(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
    }

    /// Checks values a decoder cannot: ranges and consistency.
    func validate() throws -> [String] {
        var problems: [String] = []
        if !(1...65535).contains(sip.port) { problems.append("sip.port \(sip.port) is not a port number") }
        if !(0...65535).contains(http.port) { problems.append("http.port \(http.port) is not a port number") }
        if rtp.portMin < 1024 || rtp.portMax > 65535 || rtp.portMax - rtp.portMin < 2 {
            problems.append("rtp.port-min/port-max \(rtp.portMin)-\(rtp.portMax) must be a range of at least two ports within 1024-65535")
        }
        if sip.address == "0.0.0.0" || sip.address == "::" {
            problems.append("sip.address must be a concrete address (it is written into Via, Contact and SDP), not \(sip.address)")
        }
        if lines.isEmpty { problems.append("lines: at least one number must be configured") }
        var queueNames = Set<String>()
        for (index, queue) in queues.enumerated() where !queueNames.insert(queue.name).inserted {
            problems.append("queues[\(index)]: queue \(queue.name) is defined twice")
        }
        for (index, queue) in queues.enumerated() { problems += queue.problems(index: index, queueNames: queueNames) }
        var agentIDs = Set<String>(), seats = [String: String]()
        for (index, agent) in agents.enumerated() {
            if !agentIDs.insert(agent.id).inserted { problems.append("agents[\(index)]: agent \(agent.id) is defined twice") }
            if let seat = agent.seat {
                if let other = seats[seat] { problems.append("agents[\(index)].seat: seat \(seat) is already \(other)'s") }
                seats[seat] = agent.id
            }
            problems += agent.problems(index: index, queueNames: queueNames)
        }
        if dialplans.watchInterval < 0 { problems.append("dialplans.watch-interval must be 0 (off) or positive") }
        if let webhook = events.webhook {
            if !(webhook.url.hasPrefix("http://") || webhook.url.hasPrefix("https://")) {
                problems.append("events.webhook.url '\(webhook.url)' must be an http:// or https:// URL")
            }
            if !(1...1000).contains(webhook.batchSize) { problems.append("events.webhook.batch-size must be 1-1000") }
            if webhook.timeout <= 0 { problems.append("events.webhook.timeout must be positive") }
        }
        if events.retentionDays <= 0 || events.cdrRetentionDays <= 0 {
            problems.append("events.retention-days and events.cdr-retention-days must be positive")
        }
        if let token = http.token, token.count < 16 {
            problems.append("http.token must be at least 16 characters")
        }
        if sip.sessionExpires != 0 && sip.sessionExpires < sip.minSE {
            problems.append("sip.session-expires must be 0 (off) or at least sip.min-se (\(sip.minSE))")
        }
        if sip.minSE < 90 { problems.append("sip.min-se must be at least 90 (RFC 4028)") }
        if registrar.minExpires > registrar.defaultExpires || registrar.defaultExpires > registrar.maxExpires {
            problems.append("registrar: min-expires <= default-expires <= max-expires is required")
        }
        if registrar.algorithms.isEmpty || registrar.algorithms.contains(where: { DigestAlgorithm(token: $0) == nil }) {
            problems.append("registrar.algorithms must list SHA-256, MD5, SHA-256-sess or MD5-sess")
        }
        var seen = Set<String>()
        for (index, account) in accounts.enumerated() {
            do {
                for name in try account.names() {
                    if !seen.insert(name).inserted { problems.append("accounts[\(index)]: account \(name) is defined twice") }
                }
            } catch {
                problems.append("accounts[\(index)]: \(error)")
            }
            if account.password == nil && account.ha1MD5 == nil && account.ha1SHA256 == nil {
                problems.append("accounts[\(index)]: needs a password or ha1-md5/ha1-sha256")
            }
            for network in account.networks where IPNetwork(network) == nil {
                problems.append("accounts[\(index)].networks: '\(network)' is not an address or CIDR block")
            }
        }
        for (index, trunk) in trunks.enumerated() {
            for network in trunk.networks where IPNetwork(network) == nil {
                problems.append("trunks[\(index)].networks: '\(network)' is not an address or CIDR block")
            }
            if let host = trunk.host, IPNetwork(host) == nil {
                problems.append("trunks[\(index)].host: '\(host)' must be an IP address (DNS names are not resolved)")
            }
            if let proxy = trunk.outboundProxy, (try? SIPURI.parse(proxy)) == nil {
                problems.append("trunks[\(index)].outbound-proxy: '\(proxy)' is not a SIP URI")
            }
        }
        if let name = calls.outboundTrunk, !trunks.contains(where: { $0.name == name && $0.host != nil }) {
            problems.append("calls.outbound-trunk '\(name)' must name a trunk with a host")
        }
        if media.codecs.isEmpty || media.audioCodecs.contains(where: { $0 == nil }) {
            problems.append("media.codecs must list some of PCMU, PCMA, G722, opus (found \(media.codecs))")
        }
        if ![8000, 16000, 48000].contains(media.opus.sampleRate) { problems.append("media.opus.sample-rate must be 8000, 16000 or 48000") }
        if !(6000...510_000).contains(media.opus.bitrate) { problems.append("media.opus.bitrate must be 6000-510000 bit/s") }
        if !(0...10).contains(media.opus.complexity) { problems.append("media.opus.complexity must be 0-10") }
        if RecordingFormat(rawValue: recording.format) == nil { problems.append("recording.format must be 'wav' or 'ogg-opus'") }
        if ![8000, 16000].contains(recording.sampleRate) { problems.append("recording.sample-rate must be 8000 or 16000") }
        if !(1...60).contains(recording.syncInterval) { problems.append("recording.sync-interval must be 1-60 seconds") }
        if !["challenge", "refuse"].contains(security.unknownSources) {
            problems.append("security.unknown-sources must be 'challenge' or 'refuse'")
        }
        return problems
    }
}
