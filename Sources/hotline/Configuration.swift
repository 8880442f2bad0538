import Foundation
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
        enum CodingKeys: String, CodingKey, CaseIterable { case address, port, udp, tcp }
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
        var language = "zh-CN"
        enum CodingKeys: String, CodingKey, CaseIterable { case number, language }
    }
    struct Calls: Decodable, Sendable {
        var answerDelay = 0.0
        var menuTimeout = 5.0
        var maxMenuTimeouts = 3
        enum CodingKeys: String, CodingKey, CaseIterable {
            case answerDelay = "answer-delay", menuTimeout = "menu-timeout", maxMenuTimeouts = "max-menu-timeouts"
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
    var lines: [LineEntry] = [LineEntry(number: "12345")]
    var calls = Calls()
    var shutdown = Shutdown()
    var events = Events()
    var dataDir = "data"
    var logLevel = "info"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sip, http, rtp, prompts, lines, calls, shutdown, events, dataDir = "data-dir", logLevel = "log-level"
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
        calls = try c.decodeIfPresent(Calls.self, forKey: .calls) ?? Calls()
        shutdown = try c.decodeIfPresent(Shutdown.self, forKey: .shutdown) ?? Shutdown()
        events = try c.decodeIfPresent(Events.self, forKey: .events) ?? Events()
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
        language = try c.decodeIfPresent(String.self, forKey: .language) ?? language
    }
}

extension HotlineConfiguration.Calls {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        answerDelay = try c.decodeIfPresent(Double.self, forKey: .answerDelay) ?? answerDelay
        menuTimeout = try c.decodeIfPresent(Double.self, forKey: .menuTimeout) ?? menuTimeout
        maxMenuTimeouts = try c.decodeIfPresent(Int.self, forKey: .maxMenuTimeouts) ?? maxMenuTimeouts
    }
}

extension HotlineConfiguration.Shutdown {
    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        drainTimeout = try c.decodeIfPresent(Double.self, forKey: .drainTimeout) ?? drainTimeout
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private func rejectUnknownKeys<K: CodingKey & CaseIterable>(_ decoder: Decoder, _ keys: K.Type) throws {
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
        if calls.menuTimeout <= 0 { problems.append("calls.menu-timeout must be positive") }
        if calls.maxMenuTimeouts < 1 { problems.append("calls.max-menu-timeouts must be at least 1") }
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
        return problems
    }
}
