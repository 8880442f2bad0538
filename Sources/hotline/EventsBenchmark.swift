import ArgumentParser
import Events
import Foundation
import HotlineCore
import Logging
import ServiceLifecycle
import Storage

/// `hotline bench-events`: the event pipeline alone, as `make bench` measures it. Writers
/// append synthetic call events at a target rate into a real outbox (SQLite in a scratch
/// directory) and wait for each to be durable; a webhook delivers them to a local receiver.
/// Prints one JSON line: appended/s, delivered/s, append→durable latency p50/p99/max.
struct BenchEvents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-events",
        abstract: "Measure the event outbox: append rate, durable-append latency, webhook delivery rate.")

    @Option(help: "Scratch directory for the store (created; must not hold a real node's data).")
    var dataDir: String
    @Option(help: "Events to append.")
    var count: Int = 50_000
    @Option(help: "Target append rate, events per second (0: as fast as possible).")
    var rate: Int = 5_000
    @Option(help: "Concurrent writers (calls emitting at once).")
    var writers: Int = 50
    @Option(help: "Webhook receiver URL (omit to measure appends only).")
    var webhook: String?
    @Option(help: "Events per webhook POST.")
    var batchSize: Int = 100

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .warning
            return h
        }
        let logger = Logger(label: "bench-events")
        let store = try HotlineStore(directory: dataDir)
        let outbox = EventOutbox(store: store, configuration: OutboxConfiguration(source: "hotline://bench"), logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: outbox)]
        var delivery: WebhookDelivery?
        if let webhook {
            var config = WebhookConfiguration(url: webhook, secret: "bench-secret")
            config.batchSize = batchSize
            let d = WebhookDelivery(outbox: outbox, configuration: config, logger: logger)
            delivery = d
            services.append(.init(service: d))
        }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        let writers = max(1, self.writers)
        let count = self.count
        let perWriter = (count + writers - 1) / writers
        let interval: Duration? = rate > 0 ? .nanoseconds(Int64(1e9 * Double(writers) / Double(rate))) : nil

        let result = try await withThrowingTaskGroup(of: [Duration].self) { tasks -> (Duration, [Duration]) in
            tasks.addTask { try await group.run(); return [] }
            let clock = ContinuousClock()
            let start = clock.now
            for w in 0..<writers {
                tasks.addTask {
                    var latencies: [Duration] = []
                    latencies.reserveCapacity(perWriter)
                    let call = CallIdentifier.random()
                    var next = start
                    for i in 0..<perWriter where w * perWriter + i < count {
                        if let interval {
                            next = next + interval
                            try? await Task.sleep(until: next, clock: clock)
                        }
                        let t0 = clock.now
                        outbox.append(CallEvent(
                            type: CallEventType.ivrInput, callID: call, sequence: i + 1,
                            data: ["digit": "1", "menu": "main-menu"]))
                        await outbox.flush()
                        latencies.append(clock.now - t0)
                    }
                    return latencies
                }
            }
            var all: [Duration] = []
            for _ in 0..<writers {
                if let l = try await tasks.next() { all += l }
            }
            let appendElapsed = clock.now - start
            // Wait for delivery of everything, then stop the services.
            if let delivery {
                let deadline = clock.now + .seconds(120)
                while delivery.statistics().delivered < Int64(count), clock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let deliverElapsed = clock.now - start
            await group.triggerGracefulShutdown()
            tasks.cancelAll()
            return (appendElapsed, [deliverElapsed] + all)
        }
        let appendElapsed = result.0
        let deliverElapsed = result.1[0]
        let latencies = result.1.dropFirst().sorted()
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        func pct(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : seconds(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) * 1000
        }
        let delivered = delivery?.statistics().delivered ?? 0
        let report: [String: Double] = [
            "events": Double(latencies.count),
            "target_rate": Double(rate),
            "appended_per_s": Double(latencies.count) / seconds(appendElapsed),
            "append_p50_ms": pct(0.50), "append_p99_ms": pct(0.99),
            "append_max_ms": latencies.last.map { seconds($0) * 1000 } ?? 0,
            "delivered": Double(delivered),
            "delivered_per_s": delivery == nil ? 0 : Double(delivered) / seconds(deliverElapsed),
        ]
        let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}
