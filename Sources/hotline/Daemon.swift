import ACD
import API
import AsyncHTTPClient
import Calls
import Dialplan
import Events
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import Media
import Recording
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import SIPMessages
import SIPStack
import Storage

enum DaemonError: Error, CustomStringConvertible {
    case invalidDialplans([String])
    case invalidQueues([String])
    var description: String {
        switch self {
        case .invalidDialplans(let lines): return "invalid dialplans:\n" + lines.joined(separator: "\n")
        case .invalidQueues(let lines): return "invalid queues:\n" + lines.joined(separator: "\n")
        }
    }
}

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

        raiseFileDescriptorLimit(logger: logger)
        let dataDir = resolve(configuration.dataDir)
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)

        // Dialplans and the prompts they play: the daemon refuses to start on an invalid one.
        let dialplanSource = configuration.dialplanSource(baseDirectory: baseDirectory)
        let dialplans: DialplanRegistry
        do {
            dialplans = try DialplanRegistry(source: dialplanSource, logger: Logger(label: "hotline.dialplan"))
        } catch {
            for d in error.diagnostics { logger.critical("\(d)") }
            throw DaemonError.invalidDialplans(error.diagnostics.map(\.description))
        }
        let prompts = dialplans.current.prompts
        for warning in dialplans.current.warnings { logger.warning("\(warning)") }
        // A queue's periodic announcement must exist in every language callers may have.
        let missing = configuration.queues.enumerated().flatMap { index, queue -> [String] in
            guard let prompt = queue.periodicAnnounce else { return [] }
            return prompts.languages.filter { prompts.prompt(prompt, language: $0) == nil }.map {
                "queues[\(index)] (\(queue.name)).periodic-announce: no prompt '\(prompt)' in language \($0)"
            }
        }
        guard missing.isEmpty else {
            for m in missing { logger.critical("\(m)") }
            throw DaemonError.invalidQueues(missing)
        }
        // A caller who needs skills no agent of the queue has would wait until the timeout.
        let profiles = configuration.agents.map(\.profile)
        for plan in dialplans.current.dialplans.values {
            for node in plan.nodes.values {
                for step in node.steps {
                    guard case .enqueue(let e) = step.verb, !e.skills.isEmpty else { continue }
                    let needs = e.skills.compactMap { SkillRequirement(parsing: $0.value) }
                    if !profiles.contains(where: { $0.queues[e.queue.value] != nil && $0.qualifies(for: needs) }) {
                        logger.warning("no agent of the queue has the skills this enqueue asks for: its callers wait until they time out", metadata: [
                            "at": "\(step.location)", "queue": "\(e.queue.value)", "skills": "\(e.skills.map(\.value))"])
                    }
                }
            }
        }
        logger.info("dialplans loaded", metadata: [
            "directory": "\(dialplanSource.directory)", "dialplans": "\(dialplans.current.dialplans.keys.sorted())",
            "languages": "\(prompts.languages)",
        ])

        let loops = usableCores()
        logger.info("event loops", metadata: ["threads": "\(loops)"])
        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        let media = MediaEngine(
            group: group, address: configuration.rtp.address ?? configuration.sip.address,
            portRange: configuration.rtp.portMin...configuration.rtp.portMax, prompts: prompts,
            codecs: CodecSettings(
                opusSampleRate: configuration.media.opus.sampleRate, opusBitrate: configuration.media.opus.bitrate,
                opusFEC: configuration.media.opus.fec, opusDTX: configuration.media.opus.dtx,
                opusComplexity: configuration.media.opus.complexity),
            decodeRate: configuration.recording.sampleRate,
            logger: Logger(label: "hotline.media"))
        let codecs = configuration.media.audioCodecs.compactMap { $0 }
        var recording: RecordingSettings?
        if configuration.recording.enabled, let format = RecordingFormat(rawValue: configuration.recording.format) {
            let directory = configuration.recording.directory.hasPrefix("/")
                ? configuration.recording.directory : dataDir + "/" + configuration.recording.directory
            recording = RecordingSettings(
                directory: directory, format: format, sampleRate: configuration.recording.sampleRate,
                syncInterval: .milliseconds(Int64(configuration.recording.syncInterval * 1000)))
        }
        let settings = CallSettings(
            lines: configuration.lines.map { Line(number: $0.number, language: $0.language, dialplan: $0.dialplanName) },
            noMediaTimeout: configuration.rtp.noMediaTimeout > 0 ? .milliseconds(Int64(configuration.rtp.noMediaTimeout * 1000)) : nil,
            codecs: codecs, recording: recording, dialplanVariables: configuration.dialplans.variables)
        // The event store first: calls that were live when the node died get their ended event
        // before any new call is taken.
        let store = try HotlineStore(directory: dataDir)
        var outboxConfig = OutboxConfiguration(source: configuration.events.source ?? "hotline://\(ProcessInfo.processInfo.hostName)")
        outboxConfig.retention = .seconds(configuration.events.retentionDays * 86_400)
        outboxConfig.cdrRetention = .seconds(configuration.events.cdrRetentionDays * 86_400)
        outboxConfig.deleteUndeliveredAfterRetention = configuration.events.webhook == nil
        let outbox = EventOutbox(store: store, configuration: outboxConfig, logger: Logger(label: "hotline.events"))
        let recovered = try await outbox.recoverInterruptedCalls()
        if recovered > 0 {
            logger.notice("calls interrupted by the last stop reported as ended", metadata: ["calls": "\(recovered)", "cause": "node-restart"])
        }
        // Recordings cut by the last stop: headers repaired so they play, then reported.
        if let recording {
            let repaired = RecordingRepair.repairInterrupted(in: recording.directory, logger: Logger(label: "hotline.recording"))
            for event in CallManager.repairedRecordingEvents(repaired) { outbox.append(event) }
            if !repaired.isEmpty {
                logger.notice("recordings interrupted by the last stop repaired", metadata: ["recordings": "\(repaired.count)"])
            }
        }
        var delivery: WebhookDelivery?
        if let hook = configuration.events.webhook {
            var webhookConfig = WebhookConfiguration(url: hook.url, secret: hook.secret)
            webhookConfig.batchSize = hook.batchSize
            webhookConfig.timeout = .milliseconds(Int64(hook.timeout * 1000))
            delivery = WebhookDelivery(outbox: outbox, configuration: webhookConfig, logger: Logger(label: "hotline.webhook"))
        }

        var sipConfig = SIPEndpointConfiguration(address: configuration.sip.address, port: configuration.sip.port)
        sipConfig.udp = configuration.sip.udp
        sipConfig.tcp = configuration.sip.tcp
        sipConfig.sessionTimers.enabled = configuration.sip.sessionExpires > 0
        sipConfig.sessionTimers.sessionExpires = configuration.sip.sessionExpires
        sipConfig.sessionTimers.minSE = configuration.sip.minSE
        if let tls = configuration.sip.tls {
            sipConfig.tls = SIPTLSSettings(port: tls.port, certificatePath: resolve(tls.certificate), privateKeyPath: resolve(tls.privateKey))
        }
        let endpoint = SIPEndpoint(eventLoop: group.next(), configuration: sipConfig, logger: Logger(label: "hotline.sip"))
        let trunks = configuration.trunks.map { t in
            TrunkPeer(
                name: t.name, networks: t.networks.compactMap(IPNetwork.init), host: t.host, port: t.port,
                outboundProxy: t.outboundProxy.flatMap { try? SIPURI.parse($0) }, username: t.username, password: t.password,
                callerID: t.callerID)
        }
        let accounts = AccountsDirectory(
            configured: try ConfiguredAccounts(configuration.accounts), store: store, logger: Logger(label: "hotline.registrar"))
        let accountsWatch = Task { await accounts.watch() }
        defer { accountsWatch.cancel() }
        let registrar = Registrar(
            endpoint: endpoint, settings: registrarSettings(), accounts: accounts,
            trunks: trunks, logger: Logger(label: "hotline.registrar"))
        endpoint.setRegistrar(registrar)
        let originator = Originator(
            endpoint: endpoint, media: media, outboundTrunk: configuration.calls.outboundTrunk.flatMap { registrar.trunk(named: $0) },
            noMediaTimeout: settings.noMediaTimeout, codecs: codecs, logger: Logger(label: "hotline.calls"))
        let queues = QueueService(
            queues: configuration.queues.map(\.acd), agents: configuration.agents.map(\.profile),
            announcements: Dictionary(configuration.queues.map { ($0.name, $0.announcements) }, uniquingKeysWith: { a, _ in a }),
            originator: originator, events: outbox, lineNumber: configuration.lines.first?.number ?? "12345",
            seatRegistered: { seat in
                let contacts = (try? await registrar.contacts(of: seat).get()) ?? []
                return contacts.contains { $0.reachable }
            },
            sessions: StoredAgentSessions(store: store, logger: Logger(label: "hotline.acd")),
            logger: Logger(label: "hotline.acd"))
        let callServices = CallServices(
            originator: originator, media: media,
            speech: EspeakSynthesizer(cacheDirectory: dataDir + "/tts", logger: Logger(label: "hotline.tts")),
            webhooks: HTTPWebhookClient(client: HTTPClient.shared, logger: Logger(label: "hotline.dialplan")),
            queues: queues, messageDirectory: dataDir + "/messages",
            answerDelay: .milliseconds(Int64(configuration.calls.answerDelay * 1000)),
            sipHost: configuration.sip.address, sipPort: configuration.sip.port)
        let calls = CallManager(
            media: media, settings: settings, dialplans: dialplans, services: callServices, events: outbox, logger: Logger(label: "hotline.calls"),
            repeatCalls: { caller in
                let now = Date()
                let counts = (try? await outbox.callCounts(from: caller, since: [now - 86_400, now - 7 * 86_400])) ?? [0, 0]
                return (counts[0], counts[1])
            })
        await queues.restoreSessions()
        endpoint.delegate = calls
        try await endpoint.start()
        registrar.start()

        let sipService = SIPService(
            endpoint: endpoint, calls: calls,
            drainTimeout: .milliseconds(Int64(configuration.shutdown.drainTimeout * 1000)), logger: logger)
        let http = HotlineAPI.application(
            configuration: APIConfiguration(address: configuration.http.address, port: configuration.http.port, token: configuration.http.token),
            dependencies: APIDependencies(outbox: outbox, delivery: delivery, calls: calls, registry: registry,
                                          dialplans: { dialplans.status }, queues: queues),
            eventLoopGroup: group)

        // Graceful shutdown runs in reverse order: SIP drains its calls first (their last
        // events are appended), then the API stops, then delivery, and the outbox commits last.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: outbox)]
        if let delivery { services.append(.init(service: delivery)) }
        let watcher = DialplanWatcher(
            registry: dialplans, folders: [dialplanSource.directory, dialplanSource.promptDirectory],
            interval: configuration.dialplans.watchInterval > 0 ? .milliseconds(Int64(configuration.dialplans.watchInterval * 1000)) : nil,
            logger: Logger(label: "hotline.dialplan"))
        // Shut down first (last in the list): the desk feeds end, so the API can stop.
        services += [.init(service: watcher), .init(service: http), .init(service: sipService),
                     .init(service: QueueServiceRunner(queues: queues))]
        let serviceGroup = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("hotline ready", metadata: [
            "sip": "\(configuration.sip.address):\(configuration.sip.port)",
            "http": "\(configuration.http.address):\(configuration.http.port)",
            "lines": "\(configuration.lines.map(\.number))",
            "store": "\(store.path)", "webhook": "\(configuration.events.webhook?.url ?? "-")",
        ])
        try await serviceGroup.run()
        try? await group.shutdownGracefully()
        logger.info("hotline stopped")
    }
}

extension Daemon {
    func registrarSettings() -> RegistrarSettings {
        var settings = RegistrarSettings()
        let r = configuration.registrar
        settings.realm = r.realm
        settings.policy = RegistrarPolicy(
            minExpires: r.minExpires, maxExpires: r.maxExpires, defaultExpires: r.defaultExpires, maxContactsPerAOR: r.maxContacts)
        settings.nonceLifetime = .milliseconds(Int64(r.nonceLifetime * 1000))
        settings.qualifyInterval = .milliseconds(Int64(r.qualifyInterval * 1000))
        settings.algorithms = r.algorithms.compactMap { DigestAlgorithm(token: $0) }
        let s = configuration.security
        settings.unknownSources = s.unknownSources == "refuse" ? .refuse : .challenge
        settings.lines = Set(configuration.lines.map(\.number))
        settings.sourceGuard = SourceGuard.Policy(
            invitesPerSecond: s.invitesPerSecond, inviteBurst: s.inviteBurst, registersPerSecond: s.registersPerSecond,
            registerBurst: s.registerBurst, maxAuthFailures: s.maxAuthFailures, failureWindow: s.failureWindow,
            blockDuration: s.blockDuration, exemptSources: s.exempt)
        settings.admission = AdmissionControl.Policy(maxConcurrentCalls: s.maxCalls, maxCallsPerSecond: s.maxCallRate)
        return settings
    }
}

/// The accounts of the configuration file and of the store. The store's are re-read every
/// 5 seconds (so `hotline accounts add` takes effect without a restart); a name in both is
/// the configuration file's.
final class AccountsDirectory: AccountDirectory {
    private let configured: ConfiguredAccounts
    private let stored = NIOLockedValueBox<[String: SIPAccount]>([:])
    private let store: HotlineStore
    private let logger: Logger

    init(configured: ConfiguredAccounts, store: HotlineStore, logger: Logger) {
        self.configured = configured
        self.store = store
        self.logger = logger
        reload()
    }

    func account(named name: String) -> SIPAccount? {
        configured.account(named: name) ?? stored.withLockedValue { $0[name] }
    }

    func reload() {
        do {
            var accounts: [String: SIPAccount] = [:]
            for a in try store.accounts() {
                accounts[a.name] = SIPAccount(
                    name: a.name, secret: .ha1(md5: a.ha1MD5, sha256: a.ha1SHA256),
                    allowedNetworks: a.networks.compactMap(IPNetwork.init), displayName: a.displayName)
            }
            let changed = stored.withLockedValue { current -> Bool in
                defer { current = accounts }
                return Set(current.keys) != Set(accounts.keys)
            }
            if changed { logger.info("accounts in the store", metadata: ["count": "\(accounts.count)"]) }
        } catch {
            logger.error("cannot read the accounts in the store", metadata: ["error": "\(error)"])
        }
    }

    /// Re-reads the store every 5 s until cancelled.
    func watch() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(5))
            reload()
        }
    }
}

/// The accounts of the configuration file, expanded (ranges) and indexed by name.
struct ConfiguredAccounts: AccountDirectory {
    let accounts: [String: SIPAccount]

    init(_ entries: [HotlineConfiguration.Account]) throws {
        var accounts: [String: SIPAccount] = [:]
        for entry in entries {
            let secret: AccountSecret
            if let password = entry.password {
                secret = .password(password)
            } else {
                secret = .ha1(md5: entry.ha1MD5, sha256: entry.ha1SHA256)
            }
            for name in try entry.names() {
                accounts[name] = SIPAccount(
                    name: name, secret: secret, allowedNetworks: entry.networks.compactMap(IPNetwork.init), displayName: entry.displayName)
            }
        }
        self.accounts = accounts
    }

    func account(named name: String) -> SIPAccount? { accounts[name] }
}

/// One event loop per core this process may run on: the affinity mask (taskset, cpusets)
/// as well as NIO's cgroup-aware count. Two loops sharing one core delay each other's 20 ms
/// media ticks by a whole tick's work.
private func usableCores() -> Int {
    // `Cpus_allowed:` is the affinity mask in hex (sched_getaffinity needs _GNU_SOURCE).
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
    else { return System.coreCount }
    let allowed = line.dropFirst("Cpus_allowed:".count).reduce(0) { count, digit in
        count + (digit.hexDigitValue ?? 0).nonzeroBitCount
    }
    return max(1, min(System.coreCount, allowed))
}

/// Every call leg holds a socket: raise the soft descriptor limit to the hard one, or a default
/// shell's 1,024 would cap the node near 1,000 calls.
private func raiseFileDescriptorLimit(logger: Logger) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    if limit.rlim_cur < limit.rlim_max {
        let before = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            logger.warning("could not raise the file descriptor limit", metadata: ["soft": "\(before)"])
            return
        }
    }
    logger.info("file descriptor limit", metadata: ["soft": "\(limit.rlim_cur)"])
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

/// Runs until graceful shutdown, then ends the agents' desk feeds (open server-sent event
/// streams would otherwise keep the HTTP server from stopping) and the ACD's timers.
struct QueueServiceRunner: Service {
    let queues: QueueService

    func run() async throws {
        try? await gracefulShutdown()
        await queues.shutdown()
    }
}


/// Agents' log-ins in the embedded store (`agent_sessions`), for `QueueService`.
struct StoredAgentSessions: AgentSessionStore {
    let store: HotlineStore
    let logger: Logger

    func save(agent: String, seat: String, ready: Bool, reason: String?) async {
        do {
            try store.saveAgentSession(StoredAgentSession(agent: agent, seat: seat, ready: ready, reason: reason))
        } catch {
            logger.error("agent log-in not stored", metadata: ["agent": "\(agent)", "error": "\(error)"])
        }
    }

    func delete(agent: String) async {
        do { try store.deleteAgentSession(agent: agent) } catch {
            logger.error("agent log-out not stored", metadata: ["agent": "\(agent)", "error": "\(error)"])
        }
    }

    func load() async -> [(agent: String, seat: String, ready: Bool, reason: String?)] {
        do {
            return try store.agentSessions().map { ($0.agent, $0.seat, $0.ready, $0.reason) }
        } catch {
            logger.error("agent log-ins not read", metadata: ["error": "\(error)"])
            return []
        }
    }
}
