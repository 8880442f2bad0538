import Calls
import Foundation
import Hummingbird
import Logging
import Media
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import SIPStack

/// Wires the daemon together: metrics and logging, the media engine, the SIP endpoint, the call
/// layer and the HTTP endpoint, run as services with graceful shutdown on SIGTERM/SIGINT.
struct Daemon {
    let configuration: HotlineConfiguration
    let baseDirectory: String
    let logLevel: Logger.Level

    private func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : baseDirectory + "/" + path
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "hotline")

        let dataDir = resolve(configuration.dataDir)
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)

        let promptDir = resolve(configuration.prompts.directory)
        let prompts = try PromptLibrary.load(directory: promptDir)
        let languages = Set(configuration.lines.map(\.language))
        try prompts.require(FirstMenuFlow.prompts, languages: languages.sorted())
        logger.info("prompts loaded", metadata: ["directory": "\(promptDir)", "languages": "\(prompts.languages)"])

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let media = MediaEngine(
            group: group, address: configuration.rtp.address ?? configuration.sip.address,
            portRange: configuration.rtp.portMin...configuration.rtp.portMax, prompts: prompts,
            logger: Logger(label: "hotline.media"))
        let settings = CallSettings(
            lines: configuration.lines.map { Line(number: $0.number, language: $0.language) },
            noMediaTimeout: configuration.rtp.noMediaTimeout > 0 ? .milliseconds(Int64(configuration.rtp.noMediaTimeout * 1000)) : nil,
            answerDelay: .milliseconds(Int64(configuration.calls.answerDelay * 1000)),
            flow: FirstMenuFlow(
                menuTimeout: .milliseconds(Int64(configuration.calls.menuTimeout * 1000)),
                maxTimeouts: configuration.calls.maxMenuTimeouts))
        let calls = CallManager(media: media, settings: settings, logger: Logger(label: "hotline.calls"))

        var sipConfig = SIPEndpointConfiguration(address: configuration.sip.address, port: configuration.sip.port)
        sipConfig.udp = configuration.sip.udp
        sipConfig.tcp = configuration.sip.tcp
        let endpoint = SIPEndpoint(eventLoop: group.next(), configuration: sipConfig, logger: Logger(label: "hotline.sip"))
        endpoint.delegate = calls
        try await endpoint.start()

        let sipService = SIPService(
            endpoint: endpoint, calls: calls,
            drainTimeout: .milliseconds(Int64(configuration.shutdown.drainTimeout * 1000)), logger: logger)
        let http = HTTPEndpoint.make(
            address: configuration.http.address, port: configuration.http.port,
            registry: registry, calls: calls, group: group)

        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: [.init(service: sipService), .init(service: http)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info("hotline ready", metadata: [
            "sip": "\(configuration.sip.address):\(configuration.sip.port)",
            "http": "\(configuration.http.address):\(configuration.http.port)",
            "lines": "\(configuration.lines.map(\.number))",
        ])
        try await serviceGroup.run()
        try? await group.shutdownGracefully()
        logger.info("hotline stopped")
    }
}

/// Keeps SIP serving until graceful shutdown, then drains: new INVITEs get 503, calls in
/// progress may finish until the drain timeout, the rest are hung up, and the listeners close.
struct SIPService: Service {
    let endpoint: SIPEndpoint
    let calls: CallManager
    let drainTimeout: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.notice("shutting down: draining calls", metadata: [
            "active": "\(calls.activeCallCount)", "drain-timeout": "\(drainTimeout)",
        ])
        endpoint.beginDrain()
        await calls.drain(timeout: drainTimeout)
        await endpoint.stop()
    }
}
