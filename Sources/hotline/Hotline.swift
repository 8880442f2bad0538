import ArgumentParser
import Foundation
import Logging

@main
struct Hotline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hotline",
        abstract: "The 12345 hotline call-processing daemon.",
        subcommands: [Serve.self, Accounts.self, DialplanCommand.self, SimulateCommand.self, BenchEvents.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: SIP over UDP and TCP, RTP media, the call flow and the HTTP endpoint.")

    @Option(help: "Configuration file (YAML).")
    var config: String = "hotline.yaml"
    @Option(help: "SIP listen address (overrides sip.address); also written into Via, Contact and SDP.")
    var sipAddress: String?
    @Option(help: "SIP listen port for UDP and TCP (overrides sip.port).")
    var sipPort: Int?
    @Option(help: "HTTP port for /v1/health and /metrics (overrides http.port).")
    var httpPort: Int?
    @Option(help: "Directory for the daemon's data (overrides data-dir).")
    var dataDir: String?
    @Option(help: "Lowest RTP port (overrides rtp.port-min).")
    var rtpPortMin: Int?
    @Option(help: "Highest RTP port (overrides rtp.port-max).")
    var rtpPortMax: Int?
    @Option(help: "Seconds without RTP before a call is hung up; 0 disables (overrides rtp.no-media-timeout).")
    var noMediaTimeout: Double?
    @Option(help: "Seconds calls may continue after SIGTERM before they are hung up (overrides shutdown.drain-timeout).")
    var drainTimeout: Double?
    @Option(help: "Seconds of ringing (180) before answering (overrides calls.answer-delay).")
    var answerDelay: Double?
    @Option(help: "Webhook URL that receives the events (overrides events.webhook.url).")
    var webhook: String?
    @Option(help: "HMAC-SHA256 secret for the webhook's X-Hotline-Signature (overrides events.webhook.secret).")
    var webhookSecret: String?
    @Option(help: "Bearer token for the HTTP API (overrides http.token).")
    var apiToken: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (overrides log-level).")
    var logLevel: String?

    func run() async throws {
        var configuration: HotlineConfiguration
        do {
            configuration = try HotlineConfiguration.load(path: config)
        } catch {
            throw ValidationError("\(error)")
        }
        if let sipAddress { configuration.sip.address = sipAddress }
        if let sipPort { configuration.sip.port = sipPort }
        if let httpPort { configuration.http.port = httpPort }
        if let dataDir { configuration.dataDir = dataDir }
        if let rtpPortMin { configuration.rtp.portMin = rtpPortMin }
        if let rtpPortMax { configuration.rtp.portMax = rtpPortMax }
        if let noMediaTimeout { configuration.rtp.noMediaTimeout = noMediaTimeout }
        if let drainTimeout { configuration.shutdown.drainTimeout = drainTimeout }
        if let answerDelay { configuration.calls.answerDelay = answerDelay }
        if let logLevel { configuration.logLevel = logLevel }
        if let webhook {
            var hook = configuration.events.webhook ?? HotlineConfiguration.Webhook(url: webhook)
            hook.url = webhook
            configuration.events.webhook = hook
        }
        if let webhookSecret { configuration.events.webhook?.secret = webhookSecret }
        if let apiToken { configuration.http.token = apiToken }
        let problems = try configuration.validate()
        guard problems.isEmpty else {
            throw ValidationError(problems.map { "\(config): \($0)" }.joined(separator: "\n"))
        }
        guard let level = Logger.Level(rawValue: configuration.logLevel) else {
            throw ValidationError("\(config): log-level '\(configuration.logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        // Relative paths in the file are relative to the file.
        let base = URL(fileURLWithPath: config).deletingLastPathComponent().path
        try await Daemon(configuration: configuration, baseDirectory: base, logLevel: level).run()
    }
}
