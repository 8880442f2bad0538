import Foundation
import HotlineCore
import XCTest

@testable import Events
import Storage

/// Not a unit test: prints throughput and append→commit latency. Asserts correctness only.
final class ThroughputReportTests: XCTestCase {
    private func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let index = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
        return Double(sorted[max(0, index)]) / 1e6
    }

    private func report(_ label: String, count: Int, elapsed: Duration, latencies: [UInt64]) {
        let sorted = latencies.sorted()
        let rate = Double(count) / elapsed.inSeconds
        let figures = String(format: "%d events in %.2f s = %.0f events/s; append→commit latency p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                             count, elapsed.inSeconds, rate, percentile(sorted, 0.5), percentile(sorted, 0.99),
                             Double(sorted.last ?? 0) / 1e6)
        print("THROUGHPUT \(label): \(figures)")
    }

    /// 50,000 events appended as fast as 4 tasks can (bursts), then 50,000 paced at 5,000/s.
    func testThroughputReport() async throws {
        for durability in [HotlineStore.Durability.full, .normal] {
            let outbox = try makeOutbox(directory: makeTemporaryDirectory(self), durability: durability)
            let running = RunningOutbox(outbox)
            try await Task.sleep(for: .milliseconds(20))
            let data: [String: JSONValue] = ["digit": "1", "menu": "main", "caller": "13800138000"]

            // Burst.
            outbox.recordLatencies(true)
            var start = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                for t in 0..<4 {
                    group.addTask {
                        for i in 1...12_500 {
                            outbox.append(event(CallEventType.ivrInput, call: "burst-\(t)-\(i % 50)", seq: i, data: data))
                        }
                    }
                }
            }
            await outbox.flush()
            var elapsed = ContinuousClock.now - start
            report("burst (\(durability))", count: 50_000, elapsed: elapsed, latencies: outbox.recordLatencies(true))
            XCTAssertEqual(outbox.statistics().committed, 50_000)

            // Paced at 5,000 events/s (one append burst per millisecond).
            outbox.recordLatencies(true)
            start = ContinuousClock.now
            var sent = 0
            while sent < 50_000 {
                let due = min(50_000, Int((ContinuousClock.now - start).inSeconds * 5_000) + 1)
                while sent < due {
                    sent += 1
                    outbox.append(event(CallEventType.ivrInput, call: "paced-\(sent % 300)", seq: sent, data: data))
                }
                try await Task.sleep(for: .milliseconds(1))
            }
            await outbox.flush()
            elapsed = ContinuousClock.now - start
            report("paced 5000/s (\(durability))", count: 50_000, elapsed: elapsed, latencies: outbox.recordLatencies(false))
            XCTAssertEqual(outbox.statistics().committed, 100_000)
            try await running.stop()
        }
    }
}
