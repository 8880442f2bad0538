import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

public struct WebhookConfiguration: Sendable {
    public var url: String
    /// HMAC-SHA256 key for `X-Hotline-Signature`; nil sends no signature.
    public var secret: String?
    /// Events per request (1 = always structured mode).
    public var batchSize = 100
    public var timeout: Duration = .seconds(5)
    public var initialBackoff: Duration = .milliseconds(200)
    public var maxBackoff: Duration = .seconds(30)

    public init(url: String, secret: String?) {
        self.url = url
        self.secret = secret
    }
}

public struct DeliveryStatistics: Sendable, Codable, Equatable {
    public var url: String
    public var delivered: Int64
    public var failedAttempts: Int64
    public var dead: Int64
    /// Committed events neither delivered nor dead.
    public var backlog: Int64
    /// Age of the oldest undelivered event; nil when there is none.
    public var lagSeconds: Double?
    public var lastError: String?
    public var lastSuccessAt: Date?
    /// The highest cursor delivered or parked as dead.
    public var cursor: Int64
}

public enum WebhookSignature {
    public static let header = "X-Hotline-Signature"

    /// `sha256=<lowercase hex HMAC-SHA256 of body>`.
    public static func sign(_ body: [UInt8], secret: String) -> String {
        let key = SymmetricKey(data: Array(secret.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: key)
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in mac {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return "sha256=" + String(decoding: out, as: UTF8.self)
    }
}

/// Pushes committed events to a webhook, in cursor order, at least once.
///
/// A batch that fails with a retryable error (5xx, 408, 429, timeout, connection failure) is
/// retried as it is after an exponential backoff with full jitter, never skipping ahead, so a
/// call's events always arrive in order. A batch refused with another 4xx is resent event by
/// event; an event refused on its own is parked as dead and delivery continues after it.
public final class WebhookDelivery: Service, Sendable {
    public let configuration: WebhookConfiguration
    private let outbox: EventOutbox
    private let logger: Logger
    private let client: HTTPClient
    private let stats: NIOLockedValueBox<DeliveryStatistics>
    private let metrics = DeliveryMetrics()

    public init(outbox: EventOutbox, configuration: WebhookConfiguration, logger: Logger) {
        self.outbox = outbox
        self.configuration = configuration
        self.logger = logger
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.timeout = .init(connect: .seconds(max(1, configuration.timeout.components.seconds)))
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)
        self.stats = NIOLockedValueBox(DeliveryStatistics(url: configuration.url, delivered: 0, failedAttempts: 0, dead: 0,
                                               backlog: 0, lagSeconds: nil, lastError: nil, lastSuccessAt: nil, cursor: 0))
    }

    public func statistics() -> DeliveryStatistics {
        var snapshot = stats.withLockedValue { $0 }
        if let oldest = oldestUndelivered.withLockedValue({ $0 }) {
            snapshot.lagSeconds = max(0, Date().timeIntervalSince(oldest))
        }
        return snapshot
    }

    private let oldestUndelivered = NIOLockedValueBox<Date?>(nil)
    private let lastBacklogRefresh = NIOLockedValueBox<ContinuousClock.Instant?>(nil)

    public func run() async throws {
        logger.info("webhook delivery started", metadata: ["url": "\(configuration.url)"])
        await cancelWhenGracefulShutdown {
            await self.deliveryLoop()
        }
        try? await client.shutdown()
        logger.info("webhook delivery stopped", metadata: ["delivered": "\(statistics().delivered)"])
    }

    // MARK: Loop

    private func deliveryLoop() async {
        let batchSize = max(1, configuration.batchSize)
        while !Task.isCancelled {
            await refreshBacklogIfDue()
            // Read the cursor before the query, so that an event committed in between wakes us.
            let seen = outbox.committedCursor
            let batch: [StoredEvent]
            do {
                batch = try await outbox.undeliveredEvents(limit: batchSize)
            } catch is CancellationError {
                return
            } catch {
                noteFailure("reading the outbox failed: \(error)", countAttempt: false)
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if batch.isEmpty {
                oldestUndelivered.withLockedValue { $0 = nil }
                stats.withLockedValue { $0.backlog = 0 }
                metrics.backlog.record(0)
                _ = await outbox.waitForEvents(after: seen, timeout: .seconds(1))
                continue
            }
            oldestUndelivered.withLockedValue { $0 = batch[0].committedAt }
            guard await deliver(batch) else { return }
        }
    }

    /// Delivers a batch (retrying as needed); false when cancelled.
    private func deliver(_ batch: [StoredEvent]) async -> Bool {
        var attempt = 0
        while !Task.isCancelled {
            switch await send(batch) {
            case .delivered:
                await markDelivered(batch)
                return true
            case .retry(let reason):
                noteFailure(reason, countAttempt: true)
                await refreshBacklogIfDue()
                guard await backoff(attempt: attempt) else { return false }
                attempt += 1
            case .refused(let status, let body):
                noteFailure("HTTP \(status)", countAttempt: true)
                if batch.count > 1 {
                    logger.warning("webhook refused a batch; resending its events one by one",
                                   metadata: ["status": "\(status)", "events": "\(batch.count)"])
                    for event in batch {
                        guard await deliver([event]) else { return false }
                    }
                    return true
                }
                await markDead(batch[0], reason: "HTTP \(status): \(body)")
                return true
            }
        }
        return false
    }

    private func backoff(attempt: Int) async -> Bool {
        let initial = max(0.001, configuration.initialBackoff.inSeconds)
        let cap = max(initial, configuration.maxBackoff.inSeconds)
        let ceiling = min(cap, initial * pow(2, Double(min(attempt, 40))))
        let delay = Double.random(in: 0...ceiling)  // full jitter
        do {
            try await Task.sleep(for: .nanoseconds(Int64(delay * 1e9)))
            return true
        } catch {
            return false
        }
    }

    enum SendOutcome {
        case delivered
        case retry(String)
        case refused(status: UInt, body: String)
    }

    private func send(_ batch: [StoredEvent]) async -> SendOutcome {
        let body: [UInt8]
        let contentType: String
        if batch.count == 1 {
            body = batch[0].cloudEvent
            contentType = "application/cloudevents+json"
        } else {
            var bytes: [UInt8] = [UInt8(ascii: "[")]
            bytes.reserveCapacity(batch.reduce(2) { $0 + $1.cloudEvent.count + 1 })
            for (i, event) in batch.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes.append(contentsOf: event.cloudEvent)
            }
            bytes.append(UInt8(ascii: "]"))
            body = bytes
            contentType = "application/cloudevents-batch+json"
        }
        var request = HTTPClientRequest(url: configuration.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "User-Agent", value: "hotline")
        if let secret = configuration.secret {
            request.headers.add(name: WebhookSignature.header, value: WebhookSignature.sign(body, secret: secret))
        }
        request.body = .bytes(body)
        do {
            let timeout = TimeAmount.nanoseconds(max(1, configuration.timeout.inNanoseconds))
            let response = try await client.execute(request, timeout: timeout, logger: logger)
            let status = response.status.code
            let responseBody = try await response.body.collect(upTo: 64 * 1024)
            switch status {
            case 200..<300:
                return .delivered
            case 408, 429, 500...:
                return .retry("HTTP \(status)")
            case 400..<500:
                let text = String(decoding: responseBody.readableBytesView.prefix(200), as: UTF8.self)
                return .refused(status: status, body: text)
            default:
                return .retry("HTTP \(status)")  // 1xx/3xx: a misconfigured receiver, try again later
            }
        } catch {
            return .retry("\(error)")
        }
    }

    // MARK: Bookkeeping

    private func markDelivered(_ batch: [StoredEvent]) async {
        let now = Date()
        do {
            try await outbox.markDelivered(batch.map(\.cursor), at: now)
        } catch {
            // The receiver has them; without the mark they will be sent again (at least once).
            logger.error("cannot mark events delivered", metadata: ["error": "\(error)"])
        }
        stats.withLockedValue { s in
            s.delivered += Int64(batch.count)
            s.backlog = max(0, s.backlog - Int64(batch.count))
            s.lastSuccessAt = now
            s.cursor = max(s.cursor, batch[batch.count - 1].cursor)
        }
        metrics.delivered.increment(by: batch.count)
    }

    private func markDead(_ event: StoredEvent, reason: String) async {
        logger.error("webhook refused an event; parking it as dead",
                     metadata: ["event": "\(event.id)", "cursor": "\(event.cursor)", "reason": "\(reason)"])
        do {
            try await outbox.markDead(event.cursor, reason: reason)
        } catch {
            logger.error("cannot mark an event dead", metadata: ["error": "\(error)"])
        }
        stats.withLockedValue { s in
            s.dead += 1
            s.backlog = max(0, s.backlog - 1)
            s.cursor = max(s.cursor, event.cursor)
        }
        metrics.dead.increment()
    }

    private func noteFailure(_ reason: String, countAttempt: Bool) {
        let first = stats.withLockedValue { s -> Bool in
            let first = s.lastError != reason
            s.lastError = reason
            if countAttempt { s.failedAttempts += 1 }
            return first
        }
        if countAttempt { metrics.errors.increment() }
        if first {
            logger.warning("webhook delivery failed; retrying", metadata: ["url": "\(configuration.url)", "error": "\(reason)"])
        }
    }

    /// Refreshes backlog and lag from the store, at most once a second.
    private func refreshBacklogIfDue() async {
        let now = ContinuousClock.now
        let due = lastBacklogRefresh.withLockedValue { last -> Bool in
            guard last.map({ now - $0 >= .seconds(1) }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        guard let backlog = try? await outbox.deliveryBacklog() else { return }
        stats.withLockedValue { $0.backlog = backlog.count }
        oldestUndelivered.withLockedValue { $0 = backlog.oldestCommittedAt }
        metrics.backlog.record(backlog.count)
    }
}

struct DeliveryMetrics: Sendable {
    let delivered = Counter(label: "hotline_events_delivered_total")
    let dead = Counter(label: "hotline_events_dead_total")
    let errors = Counter(label: "hotline_webhook_errors_total")
    let backlog = Gauge(label: "hotline_events_backlog")
}
