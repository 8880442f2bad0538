import Foundation

public struct OutboxConfiguration: Sendable {
    /// The CloudEvents `source`, e.g. `hotline://node1`.
    public var source: String
    /// How long the writer waits after the first queued event before committing (group commit).
    public var commitInterval: Duration = .milliseconds(2)
    /// Commit at once when this many events are queued; also the largest transaction.
    public var maxBatch = 2_000
    /// Events kept in memory while the store cannot be written; beyond, the oldest are dropped.
    public var maxBuffered = 200_000
    /// Delivered (or dead) events older than this are deleted.
    public var retention: Duration = .seconds(7 * 86_400)
    /// Call detail records older than this are deleted.
    public var cdrRetention: Duration = .seconds(180 * 86_400)
    /// Also delete undelivered events older than `retention` (when no webhook is configured).
    public var deleteUndeliveredAfterRetention = false
    /// How often retention runs (the first run is at start).
    public var retentionInterval: Duration = .seconds(3600)
    /// How long the writer waits before retrying a failed commit.
    public var retryInterval: Duration = .seconds(1)
    /// Store errors are logged at most once per this interval (they are always counted).
    public var errorLogInterval: Duration = .seconds(30)

    public init(source: String) {
        self.source = source
    }
}

/// One committed event as the store holds it.
public struct StoredEvent: Sendable, Equatable {
    /// The position in the outbox (SQLite rowid): the delivery and pull cursor.
    public var cursor: Int64
    public var id: String
    public var type: String
    public var callID: String
    /// The CloudEvent JSON, exactly as delivered.
    public var cloudEvent: [UInt8]
    public var deliveredAt: Date?
    public var deadReason: String?
    /// When the event was committed to the store.
    public var committedAt: Date

    public init(cursor: Int64, id: String, type: String, callID: String, cloudEvent: [UInt8],
                deliveredAt: Date? = nil, deadReason: String? = nil, committedAt: Date) {
        self.cursor = cursor
        self.id = id
        self.type = type
        self.callID = callID
        self.cloudEvent = cloudEvent
        self.deliveredAt = deliveredAt
        self.deadReason = deadReason
        self.committedAt = committedAt
    }
}

/// A call detail record: `record` is the `data` object of the call's `hotline.call.ended` event.
public struct CDRRecord: Sendable, Equatable {
    public var callID: String
    public var startedAt: Date
    public var record: [UInt8]
    public var caller: String?
    public var called: String?
    public var endedAt: Date

    public init(callID: String, startedAt: Date, record: [UInt8], caller: String? = nil, called: String? = nil,
                endedAt: Date) {
        self.callID = callID
        self.startedAt = startedAt
        self.record = record
        self.caller = caller
        self.called = called
        self.endedAt = endedAt
    }
}

public struct OutboxStatistics: Sendable, Codable, Equatable {
    /// Events handed to `append` since start.
    public var appended: Int64
    /// Events committed since start (re-appended duplicates not counted).
    public var committed: Int64
    /// Events waiting in memory for a commit.
    public var buffered: Int
    /// Events dropped because the in-memory buffer was full while the store failed.
    public var dropped: Int64
    /// The last commit error while the store is failing; nil when healthy.
    public var storeError: String?
    public var lastCommitAt: Date?
    /// The newest cursor committed.
    public var latestCursor: Int64
}


extension Duration {
    var inSeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    var inNanoseconds: Int64 {
        let c = components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC via DispatchTime).
@inline(__always) func monotonicNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
