import Foundation
import HotlineCore
import XCTest

@testable import Events
import Storage

private struct InjectedDiskFull: Error, CustomStringConvertible {
    var description: String { "database or disk is full (injected)" }
}

final class EventOutboxTests: XCTestCase {
    func testStoreCreatesDatabaseInWALMode() throws {
        let directory = makeTemporaryDirectory(self) + "/nested/data"
        let store = try HotlineStore(directory: directory)
        XCTAssertEqual(store.path, directory + "/hotline.sqlite")
        XCTAssertTrue(FileManager.default.fileExists(atPath: store.path))
        let mode = try store.database.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(mode, "wal")
    }

    func testStoreErrorCarriesPath() {
        do throws(StoreError) {
            _ = try HotlineStore(directory: "/proc/definitely/not/writable")
            XCTFail("expected a StoreError")
        } catch {
            XCTAssertEqual(error.path, "/proc/definitely/not/writable")
            XCTAssertFalse(error.reason.isEmpty)
        }
    }

    func testConcurrentAppendsKeepPerCallOrderAndIDsUnique() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory)
        let running = RunningOutbox(outbox)
        // 10 tasks, each driving 10 calls with 100 events each: 10,000 events.
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<10 {
                group.addTask {
                    for seq in 1...100 {
                        for c in 0..<10 {
                            let type = seq == 1 ? CallEventType.received : (seq == 100 ? CallEventType.ended : CallEventType.ivrInput)
                            outbox.append(event(type, call: "call-\(t)-\(c)", seq: seq,
                                                data: seq == 1 ? ["caller": .string("1380000\(t)\(c)"), "called": "12345"] : ["digit": "1"]))
                        }
                        if seq % 10 == 0 { await Task.yield() }
                    }
                }
            }
        }
        await outbox.flush()
        var stats = outbox.statistics()
        XCTAssertEqual(stats.appended, 10_000)
        XCTAssertEqual(stats.committed, 10_000)
        XCTAssertEqual(stats.buffered, 0)
        XCTAssertNil(stats.storeError)

        let stored = try await outbox.events(after: 0, limit: 20_000)
        XCTAssertEqual(stored.count, 10_000)
        XCTAssertEqual(Set(stored.map(\.id)).count, 10_000)
        XCTAssertEqual(stored.map(\.cursor), stored.map(\.cursor).sorted())
        var lastSeq: [String: Int] = [:]
        for e in stored {
            let seq = try sequence(of: e)
            XCTAssertEqual(seq, (lastSeq[e.callID] ?? 0) + 1, "call \(e.callID) out of order")
            lastSeq[e.callID] = seq
        }
        XCTAssertEqual(lastSeq.count, 100)

        // Re-appending an event already stored changes nothing.
        outbox.append(event(CallEventType.ivrInput, call: "call-0-0", seq: 5, data: ["digit": "9"]))
        outbox.append(event(CallEventType.received, call: "call-0-0", seq: 1))
        await outbox.flush()
        stats = outbox.statistics()
        XCTAssertEqual(stats.appended, 10_002)
        XCTAssertEqual(stats.committed, 10_000)
        let latest = try await outbox.latestCursor()
        XCTAssertEqual(latest, stored.last?.cursor)
        let live = try await outbox.liveCalls()
        XCTAssertTrue(live.isEmpty, "all calls ended: \(live)")
        let cdrs = try await outbox.cdrs(from: nil, to: nil, number: nil, limit: 1000)
        XCTAssertEqual(cdrs.count, 100)
        try await running.stop()
    }

    func testLiveCallsAndCDRs() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory)
        let running = RunningOutbox(outbox)
        let t0 = Date(timeIntervalSince1970: 1_795_370_652)
        outbox.append(event(CallEventType.received, call: "A", seq: 1, data: ["caller": "13800000001", "called": "12345"], time: t0))
        outbox.append(event(CallEventType.received, call: "B", seq: 1, data: ["caller": "13800000002", "called": "12345"],
                            time: t0.addingTimeInterval(60)))
        outbox.append(event(CallEventType.answered, call: "A", seq: 2, data: ["codec": "PCMA"], time: t0.addingTimeInterval(1)))
        await outbox.flush()
        var live = try await outbox.liveCalls()
        XCTAssertEqual(live.map(\.callID), ["A", "B"])
        XCTAssertEqual(live.map(\.lastSequence), [2, 1])

        let endedData: [String: JSONValue] = ["cause": "caller-hangup", "caller": "13800000001", "called": "12345",
                                              "startedAt": .string(RFC3339.format(t0)), "durationMs": 30_000,
                                              "endedAt": .string(RFC3339.format(t0.addingTimeInterval(30))),
                                              "hangupBy": "caller"]
        outbox.append(event(CallEventType.ended, call: "A", seq: 3, data: endedData, time: t0.addingTimeInterval(30)))
        outbox.append(event(CallEventType.ended, call: "B", seq: 2, data: ["cause": "normal-clearing"], time: t0.addingTimeInterval(90)))
        await outbox.flush()
        live = try await outbox.liveCalls()
        XCTAssertTrue(live.isEmpty)

        let all = try await outbox.cdrs(from: nil, to: nil, number: nil, limit: 10)
        XCTAssertEqual(all.map(\.callID), ["B", "A"], "newest first")
        let a = try XCTUnwrap(all.last)
        XCTAssertEqual(a.startedAt, t0)
        XCTAssertEqual(a.caller, "13800000001")
        let record = try jsonObject(a.record)
        XCTAssertEqual(record["cause"] as? String, "caller-hangup")
        XCTAssertEqual(record["durationMs"] as? Int, 30_000)
        XCTAssertEqual(record["seq"] as? Int, 3)
        // B's caller/called and start come from its live_calls row.
        let b = try XCTUnwrap(all.first)
        XCTAssertEqual(b.caller, "13800000002")
        XCTAssertEqual(b.called, "12345")
        XCTAssertEqual(b.startedAt, t0.addingTimeInterval(60))

        let byCaller = try await outbox.cdrs(from: nil, to: nil, number: "13800000002", limit: 10)
        XCTAssertEqual(byCaller.map(\.callID), ["B"])
        let byCalled = try await outbox.cdrs(from: nil, to: nil, number: "12345", limit: 10)
        XCTAssertEqual(byCalled.map(\.callID), ["B", "A"])
        let inRange = try await outbox.cdrs(from: t0, to: t0.addingTimeInterval(60), number: nil, limit: 10)
        XCTAssertEqual(inRange.map(\.callID), ["A"], "to is exclusive")
        let limited = try await outbox.cdrs(from: nil, to: nil, number: "12345", limit: 1)
        XCTAssertEqual(limited.map(\.callID), ["B"])
        let none = try await outbox.cdrs(from: nil, to: nil, number: "1234", limit: 10)
        XCTAssertTrue(none.isEmpty)
        try await running.stop()
    }

    func testRecoverInterruptedCallsAfterRestart() async throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let outbox = try makeOutbox(directory: directory)
            let running = RunningOutbox(outbox)
            outbox.append(event(CallEventType.received, call: "A", seq: 1, data: ["caller": "1001", "called": "12345"]))
            outbox.append(event(CallEventType.answered, call: "A", seq: 2))
            outbox.append(event(CallEventType.ivrInput, call: "A", seq: 3, data: ["digit": "1"]))
            outbox.append(event(CallEventType.received, call: "B", seq: 1, data: ["caller": "1002", "called": "12345"]))
            outbox.append(event(CallEventType.received, call: "C", seq: 1, data: ["caller": "1003", "called": "12345"]))
            outbox.append(event(CallEventType.ended, call: "C", seq: 2, data: ["cause": "caller-hangup"]))
            try await running.stop()  // commits what is queued
        }
        // A new process: a new store on the same directory. Recovery runs before run().
        let outbox = try makeOutbox(directory: directory)
        let before = try await outbox.events(after: 0, limit: 100)
        XCTAssertEqual(before.count, 6, "data survives reopening")
        let latestBefore = try await outbox.latestCursor()
        XCTAssertEqual(latestBefore, before.last?.cursor)

        let recovered = try await outbox.recoverInterruptedCalls()
        XCTAssertEqual(recovered, 2)
        let after = try await outbox.events(after: latestBefore, limit: 100)
        XCTAssertEqual(after.count, 2)
        let byCall = Dictionary(uniqueKeysWithValues: after.map { ($0.callID, $0) })
        let endedA = try XCTUnwrap(byCall["A"])
        XCTAssertEqual(endedA.type, CallEventType.ended)
        XCTAssertEqual(endedA.id, "A-4")
        let object = try jsonObject(endedA.cloudEvent)
        let data = try XCTUnwrap(object["data"] as? [String: Any])
        XCTAssertEqual(data["cause"] as? String, "node-restart")
        XCTAssertEqual(data["hangupBy"] as? String, "hotline")
        XCTAssertEqual(data["caller"] as? String, "1001")
        XCTAssertEqual(data["called"] as? String, "12345")
        XCTAssertEqual(data["seq"] as? Int, 4)
        XCTAssertNotNil(data["startedAt"] as? String)
        XCTAssertNotNil(data["endedAt"] as? String)
        XCTAssertNotNil(data["durationMs"] as? Int)
        XCTAssertEqual(byCall["B"]?.id, "B-2")

        let live = try await outbox.liveCalls()
        XCTAssertTrue(live.isEmpty)
        let cdrs = try await outbox.cdrs(from: nil, to: nil, number: nil, limit: 10)
        XCTAssertEqual(Set(cdrs.map(\.callID)), ["A", "B", "C"])

        // Twice changes nothing.
        let again = try await outbox.recoverInterruptedCalls()
        XCTAssertEqual(again, 0)
        let total = try await outbox.events(after: 0, limit: 100)
        XCTAssertEqual(total.count, 8)
    }

    func testStoreFailureKeepsEventsQueuedAndCommitsThemInOrder() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory)
        let running = RunningOutbox(outbox)
        outbox.append(event(CallEventType.received, call: "A", seq: 1))
        await outbox.flush()

        outbox.setInjectedCommitFailure(InjectedDiskFull())
        for seq in 2...200 { outbox.append(event(CallEventType.ivrInput, call: "A", seq: seq)) }
        await outbox.flush()  // returns: the store failed, the events wait in memory
        var stats = outbox.statistics()
        XCTAssertEqual(stats.committed, 1)
        XCTAssertEqual(stats.buffered, 199)
        XCTAssertNotNil(stats.storeError)
        XCTAssertTrue(stats.storeError?.contains("disk is full") ?? false, stats.storeError ?? "")
        // Calls keep appending while the store is down.
        for seq in 201...300 { outbox.append(event(CallEventType.ivrInput, call: "A", seq: seq)) }
        try await Task.sleep(for: .milliseconds(150))  // a few retries
        XCTAssertEqual(outbox.statistics().committed, 1)

        outbox.setInjectedCommitFailure(nil)
        await eventually { outbox.statistics().buffered == 0 }
        stats = outbox.statistics()
        XCTAssertEqual(stats.committed, 300)
        XCTAssertNil(stats.storeError)
        XCTAssertEqual(stats.dropped, 0)
        let stored = try await outbox.events(after: 0, limit: 1000)
        XCTAssertEqual(try stored.map { try sequence(of: $0) }, Array(1...300))
        let live = try await outbox.liveCalls()
        XCTAssertEqual(live.first?.lastSequence, 300)
        try await running.stop()
    }

    func testBufferLimitDropsOldestWhileStoreFails() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory) { $0.maxBuffered = 50; $0.maxBatch = 20 }
        let running = RunningOutbox(outbox)
        outbox.setInjectedCommitFailure(InjectedDiskFull())
        for seq in 1...80 { outbox.append(event(CallEventType.ivrInput, call: "A", seq: seq)) }
        var stats = outbox.statistics()
        XCTAssertEqual(stats.buffered, 50)
        XCTAssertEqual(stats.dropped, 30)
        outbox.setInjectedCommitFailure(nil)
        await eventually { outbox.statistics().buffered == 0 }
        stats = outbox.statistics()
        XCTAssertEqual(stats.committed, 50)
        let stored = try await outbox.events(after: 0, limit: 1000)
        XCTAssertEqual(try stored.map { try sequence(of: $0) }, Array(31...80))
        try await running.stop()
    }

    func testGracefulShutdownCommitsWhatIsQueued() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory) { $0.commitInterval = .seconds(30) }
        let running = RunningOutbox(outbox)
        for seq in 1...10 { outbox.append(event(CallEventType.ivrInput, call: "A", seq: seq)) }
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertEqual(outbox.statistics().committed, 0, "waiting for the commit interval")
        try await running.stop()
        XCTAssertEqual(outbox.statistics().committed, 10)
        let reopened = try makeOutbox(directory: directory)
        let stored = try await reopened.events(after: 0, limit: 100)
        XCTAssertEqual(stored.count, 10)
    }

    func testCancellationAlsoStopsAfterCommitting() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory) { $0.commitInterval = .seconds(30) }
        let task = Task { try await outbox.run() }
        try await Task.sleep(for: .milliseconds(20))
        for seq in 1...5 { outbox.append(event(CallEventType.ivrInput, call: "A", seq: seq)) }
        task.cancel()
        try await task.value
        XCTAssertEqual(outbox.statistics().committed, 5)
    }

    func testMaxBatchCommitsBeforeTheInterval() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory) { $0.commitInterval = .seconds(30); $0.maxBatch = 100 }
        let running = RunningOutbox(outbox)
        try await Task.sleep(for: .milliseconds(20))
        for seq in 1...100 { outbox.append(event(CallEventType.ivrInput, call: "A", seq: seq)) }
        await eventually(timeout: .seconds(5)) { outbox.statistics().committed == 100 }
        try await running.stop()
    }

    func testWaitForEventsWakesOnCommitAndTimesOut() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory)
        let running = RunningOutbox(outbox)
        let start = ContinuousClock.now
        let timedOut = await outbox.waitForEvents(after: 0, timeout: .milliseconds(100))
        XCTAssertFalse(timedOut)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(90))

        let waiter = Task { await outbox.waitForEvents(after: 0, timeout: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(30))
        let appendedAt = ContinuousClock.now
        outbox.append(event(CallEventType.received, call: "A", seq: 1))
        let woke = await waiter.value
        XCTAssertTrue(woke)
        XCTAssertLessThan(ContinuousClock.now - appendedAt, .seconds(2))
        let immediate = await outbox.waitForEvents(after: 0, timeout: .seconds(20))
        XCTAssertTrue(immediate)

        // A cancelled long poll returns promptly.
        let cancelled = Task { await outbox.waitForEvents(after: 100, timeout: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        let cancelledResult = await cancelled.value
        XCTAssertFalse(cancelledResult)
        try await running.stop()
    }

    func testPullPaging() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory)
        for seq in 1...25 { outbox.append(event(CallEventType.ivrInput, call: "A", seq: seq)) }
        await outbox.flush()  // not running: commits inline
        var cursor: Int64 = 0
        var seen: [Int] = []
        while true {
            let page = try await outbox.events(after: cursor, limit: 10)
            if page.isEmpty { break }
            seen += try page.map { try sequence(of: $0) }
            cursor = page.last!.cursor
        }
        XCTAssertEqual(seen, Array(1...25))
        let latest = try await outbox.latestCursor()
        XCTAssertEqual(cursor, latest)
    }

    func testRetention() async throws {
        let directory = makeTemporaryDirectory(self)
        let outbox = try makeOutbox(directory: directory)
        outbox.append(event(CallEventType.received, call: "A", seq: 1))
        outbox.append(event(CallEventType.ended, call: "A", seq: 2))
        outbox.append(event(CallEventType.received, call: "B", seq: 1))
        await outbox.flush()
        let stored = try await outbox.events(after: 0, limit: 10)
        try await outbox.markDelivered([stored[0].cursor])
        try await outbox.markDead(stored[1].cursor, reason: "HTTP 400: no")

        var result = try await outbox.applyRetention()
        XCTAssertEqual(result.events, 0, "nothing is old yet")
        result = try await outbox.applyRetention(now: Date().addingTimeInterval(8 * 86_400))
        XCTAssertEqual(result.events, 2, "delivered and dead events older than 7 days")
        XCTAssertEqual(result.cdrs, 0)
        var left = try await outbox.events(after: 0, limit: 10)
        XCTAssertEqual(left.map(\.id), ["B-1"])
        result = try await outbox.applyRetention(now: Date().addingTimeInterval(181 * 86_400))
        XCTAssertEqual(result.cdrs, 1)
        XCTAssertEqual(result.events, 0, "undelivered events are kept while a webhook is configured")
        // The cursor never goes back after deleting.
        let latest = try await outbox.latestCursor()
        XCTAssertEqual(latest, stored[2].cursor)

        let noWebhook = try makeOutbox(directory: directory) { $0.deleteUndeliveredAfterRetention = true }
        result = try await noWebhook.applyRetention(now: Date().addingTimeInterval(8 * 86_400))
        XCTAssertEqual(result.events, 1)
        left = try await noWebhook.events(after: 0, limit: 10)
        XCTAssertTrue(left.isEmpty)
        noWebhook.append(event(CallEventType.received, call: "C", seq: 1))
        await noWebhook.flush()
        let c = try await noWebhook.events(after: 0, limit: 10)
        XCTAssertGreaterThan(c.first?.cursor ?? 0, stored[2].cursor)
    }
}
