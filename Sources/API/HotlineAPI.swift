import Calls
import Events
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus

/// Where the HTTP API listens and how it is protected.
public struct APIConfiguration: Sendable {
    /// Listen address; loopback unless the operator says otherwise.
    public var address: String
    public var port: Int
    /// When set, every route except `/v1/health` and `/openapi.yaml` needs
    /// `Authorization: Bearer <token>`.
    public var token: String?

    public init(address: String = "127.0.0.1", port: Int = 8080, token: String? = nil) {
        self.address = address
        self.port = port
        self.token = token
    }
}

/// The live calls the API lists. `CallManager` conforms; tests use a fake.
public protocol LiveCallsProvider: Sendable {
    func snapshots() -> [CallSnapshot]
    var activeCallCount: Int { get }
    /// Adds a third party to a live call (three-way conference).
    func addParty(call: String, target: String) async throws(CallOperationError)
    /// A supervisor listens, whispers to the agent, or barges in.
    func monitor(call: String, supervisor: String, mode: MonitorMode) async throws(CallOperationError)
    /// Pauses (privacy) or resumes a call's recording.
    func setRecordingPaused(call: String, paused: Bool) throws(CallOperationError)
}

extension CallManager: LiveCallsProvider {}

/// What the API reads. Nothing here is owned by the API: the daemon wires it in.
public struct APIDependencies: Sendable {
    public var outbox: EventOutbox
    /// nil when no webhook is configured (pull API only).
    public var delivery: WebhookDelivery?
    public var calls: any LiveCallsProvider
    public var registry: PrometheusCollectorRegistry
    /// The loaded dialplans and the last reload's outcome (`GET /v1/dialplans`).
    public var dialplans: (@Sendable () -> DialplanStatus)?
    /// Queues and agents (nil: the queue routes answer 404).
    public var queues: QueueService?

    public init(
        outbox: EventOutbox, delivery: WebhookDelivery?, calls: any LiveCallsProvider,
        registry: PrometheusCollectorRegistry, dialplans: (@Sendable () -> DialplanStatus)? = nil, queues: QueueService? = nil
    ) {
        self.queues = queues
        self.dialplans = dialplans
        self.outbox = outbox
        self.delivery = delivery
        self.calls = calls
        self.registry = registry
    }
}

/// The HTTP API (docs/api.md, Sources/API/openapi.yaml): health, metrics, live calls, CDRs,
/// the event pull feed with long-poll, dead events and delivery status.
public enum HotlineAPI {
    /// Routes that never need the bearer token.
    static let publicPaths: Set<String> = ["/v1/health", "/openapi.yaml"]

    /// The router with every route and the auth/error middleware; test it with
    /// `Application(router:).test(.router)`.
    public static func router(dependencies: APIDependencies, token: String?) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        // Middleware first: Hummingbird builds each route's responder chain when it is added.
        router.add(middleware: JSONErrorMiddleware())
        if let token, !token.isEmpty {
            router.add(middleware: BearerTokenMiddleware(token: token, publicPaths: publicPaths))
        }
        let handlers = Handlers(dependencies: dependencies)
        router.get("/v1/health") { _, _ in handlers.health() }
        router.get("/metrics") { _, _ in handlers.metrics() }
        router.get("/v1/calls") { _, _ in handlers.calls() }
        router.post("/v1/calls/:id/conference") { request, context in try await handlers.conference(request, context: context) }
        router.post("/v1/calls/:id/monitor") { request, context in try await handlers.monitor(request, context: context) }
        router.post("/v1/calls/:id/recording") { request, context in try await handlers.recording(request, context: context) }
        router.get("/v1/dialplans") { _, _ in try handlers.dialplans() }
        router.get("/v1/queues") { _, _ in try await handlers.queueList() }
        router.get("/v1/queues/:name") { _, context in try await handlers.queue(context) }
        router.post("/v1/calls/:id/move") { request, context in try await handlers.moveCaller(request, context: context) }
        router.get("/v1/agents") { _, _ in try await handlers.agentList() }
        router.get("/v1/agents/:id") { _, context in try await handlers.agent(context) }
        router.post("/v1/agents/:id/login") { request, context in try await handlers.agentLogin(request, context: context) }
        router.post("/v1/agents/:id/logout") { _, context in try await handlers.agentLogout(context) }
        router.post("/v1/agents/:id/state") { request, context in try await handlers.agentState(request, context: context) }
        router.get("/v1/agents/:id/feed") { _, context in try await handlers.agentFeed(context) }
        router.get("/v1/cdr") { request, _ in try await handlers.cdrs(request) }
        router.get("/v1/events") { request, _ in try await handlers.events(request) }
        router.get("/v1/events/dead") { request, _ in try await handlers.deadEvents(request) }
        router.get("/v1/delivery") { _, _ in handlers.delivery() }
        router.get("/openapi.yaml") { _, _ in try handlers.openAPI() }
        return router
    }

    /// The HTTP server as a ServiceLifecycle service.
    public static func application(
        configuration: APIConfiguration, dependencies: APIDependencies, eventLoopGroup: EventLoopGroup,
        logger: Logger = Logger(label: "hotline.api")
    ) -> some ApplicationProtocol {
        Application(
            router: router(dependencies: dependencies, token: configuration.token),
            configuration: .init(
                address: .hostname(configuration.address, port: configuration.port), serverName: "hotline"),
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: logger)
    }
}
