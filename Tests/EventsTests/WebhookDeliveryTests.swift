import Foundation
import HotlineCore
import NIOCore
import NIOPosix
import XCTest

@testable import Events
import Storage

final class WebhookDeliveryTests: XCTestCase {
    private func fastConfiguration(_ url: String, secret: String? = nil, batchSize: Int = 100) -> WebhookConfiguration {
        var configuration = WebhookConfiguration(url: url, secret: secret)
        configuration.batchSize = batchSize
        configuration.initialBackoff = .milliseconds(10)
        configuration.maxBackoff = .milliseconds(80)
        configuration.timeout = .seconds(2)
        return configuration
    }

    /// Appends `count` events over `calls` calls, interleaved; returns their ids in append order.
    private func appendInterleaved(_ outbox: EventOutbox, calls: Int, perCall: Int, prefix: String = "call") -> [String] {
        var ids: [String] = []
        for seq in 1...perCall {
            for c in 0..<calls {
                let e = event(seq == 1 ? CallEventType.received : CallEventType.ivrInput, call: "\(prefix)\(c)", seq: seq)
                outbox.append(e)
                ids.append(e.id)
            }
        }
        return ids
    }

    private func startDelivery(_ outbox: EventOutbox, _ configuration: WebhookConfiguration)
        -> (WebhookDelivery, Task<Void, any Error>)
    {
        let delivery = WebhookDelivery(outbox: outbox, configuration: configuration, logger: testLogger)
        return (delivery, Task { try await delivery.run() })
    }

    func testBatchesAreSignedAndDeliveredInOrder() async throws {
        let server = try await TestHTTPServer.start()
        let outbox = try makeOutbox(directory: makeTemporaryDirectory(self))
        let running = RunningOutbox(outbox)
        let ids = appendInterleaved(outbox, calls: 5, perCall: 5)
        await outbox.flush()
        let (delivery, task) = startDelivery(outbox, fastConfiguration(server.url, secret: "s3cret", batchSize: 10))
        await eventually { delivery.statistics().delivered == 25 }
        XCTAssertEqual(try server.acceptedEventIDs(), ids)
        let requests = server.requests.get
        XCTAssertEqual(requests.count, 3)
        XCTAssertEqual(try requests.map { try eventIDs(in: $0).count }, [10, 10, 5])
        for request in requests {
            XCTAssertEqual(request.method, "POST")
            XCTAssertEqual(request.path, "/hook")
            XCTAssertEqual(request.headers["content-type"], "application/cloudevents-batch+json")
            XCTAssertEqual(request.headers["x-hotline-signature"], WebhookSignature.sign(request.body, secret: "s3cret"))
        }
        // The batch body is the stored CloudEvents, byte for byte.
        let stored = try await outbox.events(after: 0, limit: 10)
        let expected = [UInt8]("[".utf8) + stored.map(\.cloudEvent).joined(separator: [UInt8](",".utf8)) + [UInt8]("]".utf8)
        XCTAssertEqual(requests[0].body, expected)

        // A lone event goes in structured mode, promptly.
        let appendedAt = ContinuousClock.now
        outbox.append(event(CallEventType.ended, call: "call0", seq: 6))
        await eventually { delivery.statistics().delivered == 26 }
        XCTAssertLessThan(ContinuousClock.now - appendedAt, .seconds(1))
        let last = try XCTUnwrap(server.requests.get.last)
        XCTAssertEqual(last.headers["content-type"], "application/cloudevents+json")
        XCTAssertEqual(try eventIDs(in: last), ["call0-6"])
        let stats = delivery.statistics()
        XCTAssertEqual(stats.backlog, 0)
        XCTAssertEqual(stats.failedAttempts, 0)
        XCTAssertNotNil(stats.lastSuccessAt)
        let latest = try await outbox.latestCursor()
        XCTAssertEqual(stats.cursor, latest)
        let delivered = try await outbox.events(after: 0, limit: 100)
        XCTAssertTrue(delivered.allSatisfy { $0.deliveredAt != nil })

        task.cancel()
        try await task.value
        try await running.stop()
        try await server.stop()
    }

    func testServerErrorsAreRetriedWithoutSkippingAhead() async throws {
        let server = try await TestHTTPServer.start { number, _, _, _ in number <= 3 ? (500, "busy") : (200, "ok") }
        let outbox = try makeOutbox(directory: makeTemporaryDirectory(self))
        let running = RunningOutbox(outbox)
        let (delivery, task) = startDelivery(outbox, fastConfiguration(server.url, batchSize: 7))
        var ids: [String] = []
        ids += appendInterleaved(outbox, calls: 3, perCall: 5, prefix: "x")
        try await Task.sleep(for: .milliseconds(5))
        ids += appendInterleaved(outbox, calls: 3, perCall: 5, prefix: "y")
        await eventually { delivery.statistics().delivered == 30 }
        try await Task.sleep(for: .milliseconds(100))
        let accepted = try server.acceptedEventIDs()
        XCTAssertEqual(accepted, ids, "in append order, each exactly once")
        let stats = delivery.statistics()
        XCTAssertEqual(stats.failedAttempts, 3)
        XCTAssertEqual(stats.dead, 0)
        XCTAssertEqual(stats.lastError, "HTTP 500")
        // The three failed requests carried the same first batch.
        let requests = server.requests.get
        XCTAssertEqual(try eventIDs(in: requests[0]), try eventIDs(in: requests[1]))
        XCTAssertEqual(try eventIDs(in: requests[0]), try eventIDs(in: requests[3]))
        task.cancel()
        try await task.value
        try await running.stop()
        try await server.stop()
    }

    func testConnectionRefusedThenReceiverAppears() async throws {
        // Find a free port, then leave it closed.
        let probe = try await TestHTTPServer.start()
        let port = probe.port
        try await probe.stop()

        let outbox = try makeOutbox(directory: makeTemporaryDirectory(self))
        let running = RunningOutbox(outbox)
        let ids = appendInterleaved(outbox, calls: 2, perCall: 3)
        await outbox.flush()
        let (delivery, task) = startDelivery(outbox, fastConfiguration("http://127.0.0.1:\(port)/hook"))
        await eventually { delivery.statistics().failedAttempts >= 2 }
        XCTAssertEqual(delivery.statistics().delivered, 0)
        XCTAssertNotNil(delivery.statistics().lastError)
        XCTAssertEqual(delivery.statistics().backlog, 6)
        XCTAssertNotNil(delivery.statistics().lagSeconds)

        let server = try await TestHTTPServer.start(port: port)
        await eventually { delivery.statistics().delivered == 6 }
        XCTAssertEqual(try server.acceptedEventIDs(), ids)
        task.cancel()
        try await task.value
        try await running.stop()
        try await server.stop()
    }

    func testRefusedEventIsParkedDeadAndOthersDelivered() async throws {
        let culprit = "call1-2"
        let server = try await TestHTTPServer.start { _, _, _, body in
            String(decoding: body, as: UTF8.self).contains("\"\(culprit)\"") ? (400, "schema violation: bad digit") : (200, "ok")
        }
        let outbox = try makeOutbox(directory: makeTemporaryDirectory(self))
        let running = RunningOutbox(outbox)
        let ids = appendInterleaved(outbox, calls: 3, perCall: 4)
        await outbox.flush()
        let (delivery, task) = startDelivery(outbox, fastConfiguration(server.url, batchSize: 100))
        await eventually { delivery.statistics().delivered == 11 && delivery.statistics().dead == 1 }
        XCTAssertEqual(try server.acceptedEventIDs(), ids.filter { $0 != culprit }, "order kept, culprit skipped")
        let dead = try await outbox.deadEvents(limit: 10)
        XCTAssertEqual(dead.map(\.id), [culprit])
        XCTAssertEqual(dead.first?.deadReason, "HTTP 400: schema violation: bad digit")
        // First the batch (refused), then the 12 events one by one.
        let requests = server.requests.get
        XCTAssertEqual(requests.count, 13)
        XCTAssertEqual(requests.dropFirst().map { $0.headers["content-type"] ?? "" },
                       Array(repeating: "application/cloudevents+json", count: 12))

        // Delivery continues after it.
        outbox.append(event(CallEventType.ended, call: "call0", seq: 5))
        await eventually { delivery.statistics().delivered == 12 }
        XCTAssertEqual(delivery.statistics().backlog, 0)
        task.cancel()
        try await task.value
        try await running.stop()
        try await server.stop()
    }

    func testDeliveryResumesAfterRestartWithoutResending() async throws {
        let server = try await TestHTTPServer.start()
        let directory = makeTemporaryDirectory(self)
        do {
            let outbox = try makeOutbox(directory: directory)
            let running = RunningOutbox(outbox)
            _ = appendInterleaved(outbox, calls: 2, perCall: 2)
            let (delivery, task) = startDelivery(outbox, fastConfiguration(server.url))
            await eventually { delivery.statistics().delivered == 4 }
            task.cancel()
            try await task.value
            try await running.stop()
        }
        let outbox = try makeOutbox(directory: directory)
        let running = RunningOutbox(outbox)
        outbox.append(event(CallEventType.ended, call: "call0", seq: 3))
        let (delivery, task) = startDelivery(outbox, fastConfiguration(server.url))
        await eventually { delivery.statistics().delivered == 1 }
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(try server.acceptedEventIDs(), ["call0-1", "call1-1", "call0-2", "call1-2", "call0-3"])
        task.cancel()
        try await task.value
        try await running.stop()
        try await server.stop()
    }
}
