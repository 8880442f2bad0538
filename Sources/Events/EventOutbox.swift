import Foundation
import GRDB
import HotlineCore
import Logging
import Metrics
import ServiceLifecycle
import Storage

/// The durable outbox: every call event is committed to the embedded store before anything
/// depends on it having been sent.
///
/// `append` only queues the event in memory (a lock and an array append). A dedicated writer
/// thread commits the queue in group commits: `commitInterval` after the oldest queued event,
/// or as soon as `maxBatch` are queued. The same transaction maintains `live_calls` and `cdrs`.
/// If the store cannot be written, events stay queued (bounded by `maxBuffered`, oldest dropped
/// first), the commit is retried every `retryInterval`, and calls never notice.
///
/// Run it as a `Service` (`run()` starts the writer and retention, and on graceful shutdown or
/// cancellation commits what is queued, then returns). Before `run()` starts, `flush()` commits
/// on the calling task, so `recoverInterruptedCalls()` may be called first.
public final class EventOutbox: EventSink, Service, Sendable {
    public let store: HotlineStore
    public let configuration: OutboxConfiguration
    let logger: Logger
    private let state: WriterState
    private let metrics = OutboxMetrics()

    public init(store: HotlineStore, configuration: OutboxConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        let latest = (try? store.database.read { db in try OutboxSQL.latestCursor(db) }) ?? 0
        self.state = WriterState(latestCursor: latest)
    }

    // MARK: EventSink

    public func append(_ event: CallEvent) {
        let now = monotonicNanos()
        let s = state
        var dropped = 0
        var logDrop = false
        s.cond.lock()
        let index = s.nextIndex
        s.nextIndex += 1
        s.queue.append(QueuedEvent(index: index, event: event, appendedAt: now))
        s.appended += 1
        while s.buffered > configuration.maxBuffered {
            s.dropOldest()
            dropped += 1
        }
        if dropped > 0, s.lastDropLogAt.map({ now &- $0 >= UInt64(configuration.errorLogInterval.inNanoseconds) }) ?? true {
            s.lastDropLogAt = now
            logDrop = true
        }
        switch s.waiting {
        case .forWork: s.cond.signal()
        case .forBatch where s.queue.count >= configuration.maxBatch: s.cond.signal()
        default: break
        }
        let totalDropped = s.dropped
        s.cond.unlock()
        metrics.appended.increment()
        if dropped > 0 {
            metrics.dropped.increment(by: dropped)
            if logDrop {
                logger.error("event buffer full while the store is failing; dropping the oldest events",
                             metadata: ["dropped_total": "\(totalDropped)", "max_buffered": "\(configuration.maxBuffered)"])
            }
        }
    }

    public func flush() async {
        let s = state
        let start = s.withLock { s -> (target: UInt64, id: UInt64, running: Bool)? in
            let target = s.nextIndex &- 1
            if s.flushSatisfied(target) { return nil }
            let id = s.makeWaiterID()
            if s.writerRunning { s.activeWaiters.insert(id) }
            return (target, id, s.writerRunning)
        }
        guard let start else { return }
        let (target, id) = (start.target, start.id)
        if !start.running {
            drainInline()
            return
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                s.cond.lock()
                if s.flushSatisfied(target) || !s.writerRunning || s.cancelledWaiters.remove(id) != nil {
                    s.cond.unlock()
                    continuation.resume()
                } else {
                    s.flushWaiters[id] = FlushWaiter(target: target, continuation: continuation)
                    s.cond.unlock()
                }
            }
        } onCancel: {
            s.cond.lock()
            let waiter = s.flushWaiters.removeValue(forKey: id)
            if waiter == nil, s.activeWaiters.contains(id) { s.cancelledWaiters.insert(id) }
            s.cond.unlock()
            waiter?.continuation.resume()
        }
        s.endWait(id)
    }

    /// Commits everything queued on the calling thread (used while the writer is not running).
    private func drainInline() {
        while true {
            if commitStep() != .committed { return }
        }
    }

    // MARK: Service

    public func run() async throws {
        startWriter()
        logger.info("event outbox started", metadata: ["path": "\(store.path)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.retentionLoop() }
            await withGracefulShutdownHandler {
                await self.waitForStopRequest()
            } onGracefulShutdown: {
                self.requestStop()
            }
            group.cancelAll()
        }
        await stopWriter()
        logger.info("event outbox stopped", metadata: ["committed": "\(statistics().committed)"])
    }

    /// Makes `run()` commit what is queued and return (as a graceful shutdown would).
    public func triggerShutdown() {
        requestStop()
    }

    private func waitForStopRequest() async {
        let s = state
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                s.cond.lock()
                if s.stopRequested {
                    s.cond.unlock()
                    continuation.resume()
                } else {
                    s.runWaiter = continuation
                    s.cond.unlock()
                }
            }
        } onCancel: {
            self.requestStop()
        }
    }

    private func requestStop() {
        let s = state
        s.cond.lock()
        s.stopRequested = true
        let waiter = s.runWaiter
        s.runWaiter = nil
        s.cond.unlock()
        waiter?.resume()
    }

    private func startWriter() {
        let s = state
        s.cond.lock()
        s.writerRunning = true
        s.stopping = false
        s.cond.unlock()
        let thread = Thread { [self] in self.writerMain() }
        thread.name = "hotline-outbox"
        thread.start()
    }

    private func stopWriter() async {
        let s = state
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            s.cond.lock()
            if !s.writerRunning {
                s.cond.unlock()
                continuation.resume()
                return
            }
            s.stopping = true
            s.writerDone = continuation
            s.cond.broadcast()
            s.cond.unlock()
        }
    }

    // MARK: Writer

    private func writerMain() {
        let s = state
        let intervalNs = UInt64(max(0, configuration.commitInterval.inNanoseconds))
        var finalAttemptFailed = false
        s.cond.lock()
        while true {
            if s.buffered == 0 {
                if s.stopping { break }
                s.waiting = .forWork
                s.cond.wait()
                s.waiting = .none
                continue
            }
            let now = monotonicNanos()
            if s.stopping {
                if finalAttemptFailed { break }
            } else if s.storeError != nil {
                if now < s.nextRetryAt {
                    s.waiting = .forRetry
                    _ = s.cond.wait(until: Date(timeIntervalSinceNow: Double(s.nextRetryAt - now) / 1e9))
                    s.waiting = .none
                    continue
                }
            } else if s.pendingStart == s.pending.count, s.queue.count < configuration.maxBatch,
                      let first = s.queue.first, now < first.appendedAt &+ intervalNs {
                s.waiting = .forBatch
                _ = s.cond.wait(until: Date(timeIntervalSinceNow: Double(first.appendedAt &+ intervalNs &- now) / 1e9))
                s.waiting = .none
                continue
            }
            s.cond.unlock()
            let result = commitStep()
            s.cond.lock()
            if result == .failed, s.stopping { finalAttemptFailed = true }
        }
        let lost = s.buffered
        s.writerRunning = false
        let waiters = s.takeFlushWaiters { _ in true }
        let done = s.writerDone
        s.writerDone = nil
        s.cond.unlock()
        for waiter in waiters { waiter.resume() }
        if lost > 0 {
            logger.critical("event outbox stopped with events not committed; they are lost",
                            metadata: ["events": "\(lost)", "path": "\(store.path)"])
        }
        done?.resume()
    }

    enum StepResult { case idle, committed, failed }

    /// Commits the oldest queued events (at most `maxBatch`) in one transaction. Serialised by
    /// `commitLock`, so the writer thread and an inline flush never commit at the same time.
    private func commitStep() -> StepResult {
        let s = state
        s.commitLock.lock()
        defer { s.commitLock.unlock() }

        s.cond.lock()
        if s.pendingStart == s.pending.count {
            if s.queue.isEmpty {
                s.cond.unlock()
                return .idle
            }
            s.pending = s.queue
            s.queue = []
            s.pendingStart = 0
        }
        let end = min(s.pending.count, s.pendingStart + max(1, configuration.maxBatch))
        let chunk = Array(s.pending[s.pendingStart..<end])
        let injectedFailure = s.injectedFailure
        s.cond.unlock()

        let source = configuration.source
        let encoded = chunk.map { EncodedEvent(event: $0.event, cloudEvent: CloudEventEncoder.encode($0.event, source: source)) }
        let committedAt = Date()
        let outcome: Result<BatchResult, any Error>
        do {
            let result = try store.database.write { db -> BatchResult in
                if let injectedFailure { throw injectedFailure }
                return try OutboxSQL.insert(encoded, committedAt: committedAt.timeIntervalSince1970, db: db)
            }
            outcome = .success(result)
        } catch {
            outcome = .failure(error)
        }
        let done = monotonicNanos()

        s.cond.lock()
        switch outcome {
        case .success(let result):
            let last = chunk[chunk.count - 1].index
            while s.pendingStart < s.pending.count, s.pending[s.pendingStart].index <= last {
                s.pendingStart += 1
            }
            if s.pendingStart == s.pending.count {
                s.pending = []
                s.pendingStart = 0
            }
            s.committedThrough = max(s.committedThrough, last)
            s.committed += Int64(result.inserted)
            s.lastCommitAt = committedAt
            if result.maxCursor > s.latestCursor { s.latestCursor = result.maxCursor }
            let recoveredFrom = s.storeError
            s.storeError = nil
            if s.latencySamples != nil {
                for queued in chunk { s.latencySamples!.append(done &- queued.appendedAt) }
            }
            let flushWaiters = s.takeFlushWaiters { $0 <= s.committedThrough }
            let latest = s.latestCursor
            let cursorWaiters = s.takeCursorWaiters { $0 < latest }
            let buffered = s.buffered
            s.cond.unlock()
            for waiter in flushWaiters { waiter.resume() }
            for waiter in cursorWaiters { waiter.resume(returning: true) }
            metrics.committed.increment(by: result.inserted)
            metrics.commitLatency.recordNanoseconds(Int64(done &- chunk[0].appendedAt))
            if let recoveredFrom {
                logger.notice("event store writable again; committing the queued events",
                              metadata: ["previous_error": "\(recoveredFrom)", "still_buffered": "\(buffered)"])
            }
            return .committed
        case .failure(let error):
            let storeError = StoreError(path: store.path, reason: "commit of \(chunk.count) events failed: \(error)")
            s.storeError = storeError.description
            s.nextRetryAt = done &+ UInt64(max(0, configuration.retryInterval.inNanoseconds))
            let shouldLog = s.lastErrorLogAt.map { done &- $0 >= UInt64(configuration.errorLogInterval.inNanoseconds) } ?? true
            if shouldLog { s.lastErrorLogAt = done }
            // Flushes return: their events wait in memory for the store to come back.
            let waiters = s.takeFlushWaiters { _ in true }
            let buffered = s.buffered
            s.cond.unlock()
            for waiter in waiters { waiter.resume() }
            metrics.storeErrors.increment()
            if shouldLog {
                logger.error("cannot commit events; keeping them in memory and retrying",
                             metadata: ["error": "\(storeError)", "buffered": "\(buffered)"])
            }
            return .failed
        }
    }

    // MARK: Recovery

    /// Ends every call the store still has open (the node stopped while they were up): appends a
    /// `hotline.call.ended` event with cause `node-restart` and the next sequence number, and
    /// waits for the commit. Returns how many calls were ended. Call before SIP opens.
    public func recoverInterruptedCalls() async throws -> Int {
        let rows = try await store.database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT call_id, started_at, caller, called, answered_at, last_seq FROM live_calls ORDER BY started_at"
            ).map { row -> (String, Double, String?, String?, Double?, Int) in
                (row["call_id"], row["started_at"], row["caller"], row["called"], row["answered_at"], row["last_seq"])
            }
        }
        let now = Date()
        for (callID, startedAt, caller, called, answeredAt, lastSeq) in rows {
            let started = Date(timeIntervalSince1970: startedAt)
            let answered = answeredAt.map { Date(timeIntervalSince1970: $0) }
            // The full CDR shape of docs/events.md; what the node did not live to see is null.
            let data: [String: JSONValue] = [
                "cause": "node-restart",
                "caller": .string(caller ?? ""),
                "called": .string(called ?? ""),
                "startedAt": .string(RFC3339.format(started)),
                "answeredAt": answered.map { .string(RFC3339.format($0)) } ?? .null,
                "endedAt": .string(RFC3339.format(now)),
                "durationMs": .int(max(0, Int64((now.timeIntervalSince(started) * 1000).rounded()))),
                "talkMs": answered.map { .int(max(0, Int64((now.timeIntervalSince($0) * 1000).rounded()))) } ?? .null,
                "hangupBy": "hotline",
                "sipStatus": answered == nil ? .null : .int(200),
                "media": .null,
            ]
            append(CallEvent(type: CallEventType.ended, callID: CallIdentifier(rawValue: callID),
                             sequence: lastSeq + 1, time: now, data: data))
        }
        if !rows.isEmpty {
            logger.warning("ended calls interrupted by a node restart", metadata: ["calls": "\(rows.count)"])
            await flush()
        }
        return rows.count
    }

    // MARK: Reads (pull API)

    /// Committed events with a cursor greater than `cursor` (0 = from the start), oldest first.
    public func events(after cursor: Int64, limit: Int) async throws -> [StoredEvent] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(OutboxSQL.eventColumns) FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                             arguments: [cursor, max(0, limit)]).map(OutboxSQL.storedEvent)
        }
    }

    /// The highest cursor committed so far (0 when the outbox has never held an event).
    public func latestCursor() async throws -> Int64 {
        let stored = try await store.database.read { db in try OutboxSQL.latestCursor(db) }
        return max(stored, state.withLock { $0.latestCursor })
    }

    /// The latest committed cursor as this process knows it, without touching the disk.
    public var committedCursor: Int64 { state.withLock { $0.latestCursor } }

    /// Long poll: true as soon as an event with a cursor greater than `cursor` is committed
    /// (at once if there already is one), false at `timeout` or on cancellation.
    public func waitForEvents(after cursor: Int64, timeout: Duration) async -> Bool {
        let s = state
        let waitID = s.withLock { s -> UInt64? in
            if s.latestCursor > cursor { return nil }
            let id = s.makeWaiterID()
            s.activeWaiters.insert(id)
            return id
        }
        guard let id = waitID else { return true }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            let waiter = s.withLock { s -> CursorWaiter? in
                let waiter = s.cursorWaiters.removeValue(forKey: id)
                if waiter == nil, s.activeWaiters.contains(id) { s.cancelledWaiters.insert(id) }
                return waiter
            }
            waiter?.continuation.resume(returning: false)
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                s.cond.lock()
                if s.latestCursor > cursor {
                    s.cond.unlock()
                    continuation.resume(returning: true)
                } else if s.cancelledWaiters.remove(id) != nil {
                    s.cond.unlock()
                    continuation.resume(returning: false)
                } else {
                    s.cursorWaiters[id] = CursorWaiter(after: cursor, continuation: continuation)
                    s.cond.unlock()
                }
            }
        } onCancel: {
            timer.cancel()
        }
        timer.cancel()
        s.endWait(id)
        return result
    }

    /// Events parked as dead by the webhook delivery, newest first.
    public func deadEvents(limit: Int) async throws -> [StoredEvent] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(OutboxSQL.eventColumns) FROM events WHERE dead_reason IS NOT NULL ORDER BY seq DESC LIMIT ?
                """, arguments: [max(0, limit)]).map(OutboxSQL.storedEvent)
        }
    }

    /// Call detail records with `started_at` in [from, to), `number` equal to the caller or the
    /// called number, newest first.
    public func cdrs(from: Date?, to: Date?, number: String?, limit: Int) async throws -> [CDRRecord] {
        try await store.database.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let from {
                clauses.append("started_at >= ?")
                arguments += [from.timeIntervalSince1970]
            }
            if let to {
                clauses.append("started_at < ?")
                arguments += [to.timeIntervalSince1970]
            }
            var sql = "SELECT call_id, caller, called, started_at, ended_at, record FROM cdrs"
            if let number {
                // A UNION keeps both number indexes usable.
                let whereTime = clauses.isEmpty ? "" : " AND " + clauses.joined(separator: " AND ")
                sql = """
                    SELECT call_id, caller, called, started_at, ended_at, record FROM cdrs WHERE caller = ?\(whereTime)
                    UNION
                    SELECT call_id, caller, called, started_at, ended_at, record FROM cdrs WHERE called = ?\(whereTime)
                    """
                let timeArguments = arguments
                arguments = [number]
                arguments += timeArguments
                arguments += [number]
                arguments += timeArguments
            } else if !clauses.isEmpty {
                sql += " WHERE " + clauses.joined(separator: " AND ")
            }
            sql += " ORDER BY started_at DESC, call_id LIMIT ?"
            arguments += [max(0, limit)]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let record: Data = row["record"]
                return CDRRecord(callID: row["call_id"], startedAt: Date(timeIntervalSince1970: row["started_at"]),
                                 record: [UInt8](record), caller: row["caller"], called: row["called"],
                                 endedAt: Date(timeIntervalSince1970: row["ended_at"]))
            }
        }
    }

    /// Ended calls from `caller` that started at or after each date (the repeat-caller counts
    /// of the dialplan: `repeat.day`, `repeat.week`).
    public func callCounts(from caller: String, since dates: [Date]) async throws -> [Int] {
        try await store.database.read { db in
            try dates.map { date in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cdrs WHERE caller = ? AND started_at >= ?",
                                 arguments: [caller, date.timeIntervalSince1970]) ?? 0
            }
        }
    }

    /// Rows of calls in progress, as the store knows them: (call id, last sequence).
    public func liveCalls() async throws -> [(callID: String, lastSequence: Int)] {
        let rows = try await store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT call_id, last_seq FROM live_calls ORDER BY started_at, call_id")
                .map { row -> LiveCallRow in LiveCallRow(callID: row["call_id"], lastSequence: row["last_seq"]) }
        }
        return rows.map { ($0.callID, $0.lastSequence) }
    }

    public func statistics() -> OutboxStatistics {
        state.withLock { s in
            OutboxStatistics(appended: s.appended, committed: s.committed, buffered: s.buffered, dropped: s.dropped,
                             storeError: s.storeError, lastCommitAt: s.lastCommitAt, latestCursor: s.latestCursor)
        }
    }

    // MARK: Delivery support (used by WebhookDelivery)

    /// The oldest events neither delivered nor dead, in cursor order.
    public func undeliveredEvents(limit: Int) async throws -> [StoredEvent] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(OutboxSQL.eventColumns) FROM events
                WHERE delivered_at IS NULL AND dead_reason IS NULL ORDER BY seq LIMIT ?
                """, arguments: [max(0, limit)]).map(OutboxSQL.storedEvent)
        }
    }

    /// How many events wait for delivery, and when the oldest of them was committed.
    public func deliveryBacklog() async throws -> (count: Int64, oldestCommittedAt: Date?) {
        let pair = try await store.database.read { db -> BacklogRow in
            let count = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE delivered_at IS NULL AND dead_reason IS NULL") ?? 0
            let oldest = try Double.fetchOne(db, sql: """
                SELECT committed_at FROM events WHERE delivered_at IS NULL AND dead_reason IS NULL ORDER BY seq LIMIT 1
                """)
            return BacklogRow(count: count, oldest: oldest)
        }
        return (pair.count, pair.oldest.map { Date(timeIntervalSince1970: $0) })
    }

    /// Marks the events with cursors in `cursors` delivered. Not cancellable: once a webhook
    /// accepted them, the mark must land even if shutdown is under way.
    public func markDelivered(_ cursors: [Int64], at date: Date = Date()) async throws {
        guard !cursors.isEmpty else { return }
        let time = date.timeIntervalSince1970
        try await uncancellableWrite { db in
            let statement = try db.cachedStatement(sql: """
                UPDATE events SET delivered_at = ? WHERE seq = ? AND delivered_at IS NULL AND dead_reason IS NULL
                """)
            for cursor in cursors { try statement.execute(arguments: [time, cursor]) }
        }
    }

    /// Parks an event as dead: delivery will not try it again.
    public func markDead(_ cursor: Int64, reason: String) async throws {
        try await uncancellableWrite { db in
            try db.execute(sql: "UPDATE events SET dead_reason = ? WHERE seq = ? AND delivered_at IS NULL",
                           arguments: [reason, cursor])
        }
    }

    private func uncancellableWrite(_ updates: @escaping @Sendable (Database) throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            store.database.asyncWrite(updates) { _, result in continuation.resume(with: result) }
        }
    }

    // MARK: Retention

    /// Deletes events older than `retention` that are delivered or dead (all of them when
    /// `deleteUndeliveredAfterRetention`), and CDRs older than `cdrRetention`.
    @discardableResult
    public func applyRetention(now: Date = Date()) async throws -> (events: Int, cdrs: Int) {
        let eventCutoff = now.timeIntervalSince1970 - configuration.retention.inSeconds
        let cdrCutoff = now.timeIntervalSince1970 - configuration.cdrRetention.inSeconds
        let all = configuration.deleteUndeliveredAfterRetention
        var deletedEvents = 0
        var deletedCDRs = 0
        // Small transactions, so the writer is never held up for long.
        while true {
            let n = try await store.database.write { db -> Int in
                try db.execute(sql: """
                    DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE committed_at < ?
                        AND (? OR delivered_at IS NOT NULL OR dead_reason IS NOT NULL) ORDER BY seq LIMIT 5000)
                    """, arguments: [eventCutoff, all])
                return db.changesCount
            }
            deletedEvents += n
            if n < 5000 { break }
        }
        while true {
            let n = try await store.database.write { db -> Int in
                try db.execute(sql: """
                    DELETE FROM cdrs WHERE call_id IN (SELECT call_id FROM cdrs WHERE started_at < ? LIMIT 5000)
                    """, arguments: [cdrCutoff])
                return db.changesCount
            }
            deletedCDRs += n
            if n < 5000 { break }
        }
        return (deletedEvents, deletedCDRs)
    }

    private func retentionLoop() async {
        while !Task.isCancelled {
            do {
                let (events, cdrs) = try await applyRetention()
                if events > 0 || cdrs > 0 {
                    logger.info("retention deleted old rows", metadata: ["events": "\(events)", "cdrs": "\(cdrs)"])
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("retention failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.retentionInterval)
        }
    }

    // MARK: Test hooks

    /// Makes every commit fail with `error` (nil restores normal commits). For tests.
    func setInjectedCommitFailure(_ error: (any Error)?) {
        state.withLock { $0.injectedFailure = error }
    }

    /// Starts (true) or stops recording append→commit latencies, returning what was recorded (ns).
    @discardableResult
    func recordLatencies(_ on: Bool) -> [UInt64] {
        state.withLock { s in
            let samples = s.latencySamples ?? []
            s.latencySamples = on ? [] : nil
            return samples
        }
    }
}

private struct LiveCallRow: Sendable {
    var callID: String
    var lastSequence: Int
}

private struct BacklogRow: Sendable {
    var count: Int64
    var oldest: Double?
}

struct QueuedEvent {
    var index: UInt64
    var event: CallEvent
    var appendedAt: UInt64
}

struct FlushWaiter {
    var target: UInt64
    var continuation: CheckedContinuation<Void, Never>
}

struct CursorWaiter {
    var after: Int64
    var continuation: CheckedContinuation<Bool, Never>
}

/// The writer's state, guarded by `cond` (`commitLock` serialises commits).
final class WriterState: @unchecked Sendable {
    enum Waiting { case none, forWork, forBatch, forRetry }

    let cond = NSCondition()
    let commitLock = NSLock()

    /// Appended, not yet taken by a commit.
    var queue: [QueuedEvent] = []
    /// Taken by the writer, not yet committed: `pending[pendingStart...]`.
    var pending: [QueuedEvent] = []
    var pendingStart = 0
    var nextIndex: UInt64 = 1
    /// Every event with an index up to this one is committed (or dropped).
    var committedThrough: UInt64 = 0
    var appended: Int64 = 0
    var committed: Int64 = 0
    var dropped: Int64 = 0
    var storeError: String?
    var lastCommitAt: Date?
    var latestCursor: Int64
    var nextRetryAt: UInt64 = 0
    var lastErrorLogAt: UInt64?
    var lastDropLogAt: UInt64?
    var waiting = Waiting.none
    var writerRunning = false
    var stopping = false
    var writerDone: CheckedContinuation<Void, Never>?
    var stopRequested = false
    var runWaiter: CheckedContinuation<Void, Never>?
    var flushWaiters: [UInt64: FlushWaiter] = [:]
    var cursorWaiters: [UInt64: CursorWaiter] = [:]
    /// Waits in progress, and those whose wake-up (timeout, cancellation) came before they parked.
    var activeWaiters: Set<UInt64> = []
    var cancelledWaiters: Set<UInt64> = []
    var nextWaiterID: UInt64 = 0
    var injectedFailure: (any Error)?
    var latencySamples: [UInt64]?

    init(latestCursor: Int64) {
        self.latestCursor = latestCursor
    }

    var buffered: Int { queue.count + pending.count - pendingStart }

    func withLock<R>(_ body: (WriterState) throws -> R) rethrows -> R {
        cond.lock()
        defer { cond.unlock() }
        return try body(self)
    }

    func endWait(_ id: UInt64) {
        cond.lock()
        activeWaiters.remove(id)
        cancelledWaiters.remove(id)
        cond.unlock()
    }

    func makeWaiterID() -> UInt64 {
        nextWaiterID += 1
        return nextWaiterID
    }

    func flushSatisfied(_ target: UInt64) -> Bool {
        committedThrough >= target || buffered == 0 || storeError != nil
    }

    /// Drops the oldest buffered event (the buffer is full while the store fails).
    func dropOldest() {
        if pendingStart == pending.count {
            pending = queue
            queue = []
            pendingStart = 0
        }
        guard pendingStart < pending.count else { return }
        pendingStart += 1
        dropped += 1
        if pendingStart == pending.count {
            pending = []
            pendingStart = 0
        }
    }

    func takeFlushWaiters(_ ready: (UInt64) -> Bool) -> [CheckedContinuation<Void, Never>] {
        var result: [CheckedContinuation<Void, Never>] = []
        for (id, waiter) in flushWaiters where ready(waiter.target) {
            flushWaiters.removeValue(forKey: id)
            result.append(waiter.continuation)
        }
        return result
    }

    func takeCursorWaiters(_ ready: (Int64) -> Bool) -> [CheckedContinuation<Bool, Never>] {
        var result: [CheckedContinuation<Bool, Never>] = []
        for (id, waiter) in cursorWaiters where ready(waiter.after) {
            cursorWaiters.removeValue(forKey: id)
            result.append(waiter.continuation)
        }
        return result
    }
}

struct OutboxMetrics: Sendable {
    let appended = Counter(label: "hotline_events_appended_total")
    let committed = Counter(label: "hotline_events_committed_total")
    let storeErrors = Counter(label: "hotline_events_store_errors_total")
    let dropped = Counter(label: "hotline_events_dropped_total")
    let commitLatency = Metrics.Timer(label: "hotline_events_commit_latency_seconds")
}
