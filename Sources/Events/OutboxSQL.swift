import Foundation
import GRDB
import HotlineCore

/// An event on its way to the store, with its CloudEvent bytes.
struct EncodedEvent {
    var event: CallEvent
    var cloudEvent: [UInt8]
}

struct BatchResult: Sendable {
    var inserted = 0
    var maxCursor: Int64 = 0
}

/// The SQL of the outbox: one group commit, its side effects, and the reads.
enum OutboxSQL {
    static let eventColumns = "seq, id, type, call_id, cloud_event, delivered_at, dead_reason, committed_at"

    /// Inserts a batch inside the caller's transaction, with the side effects on `live_calls`
    /// and `cdrs`. An event whose id is already stored is skipped, side effects included.
    static func insert(_ events: [EncodedEvent], committedAt: Double, db: Database) throws -> BatchResult {
        let insertEvent = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO events (id, type, call_id, call_seq, time, committed_at, cloud_event)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        var result = BatchResult()
        for encoded in events {
            let event = encoded.event
            // `changesCount` is not reset by an ignored insert; the running total is exact.
            let changesBefore = db.totalChangesCount
            try insertEvent.execute(arguments: [
                event.id, event.type, event.callID.rawValue, event.sequence,
                event.time.timeIntervalSince1970, committedAt, Data(encoded.cloudEvent),
            ])
            guard db.totalChangesCount != changesBefore else { continue }  // a re-appended event
            result.inserted += 1
            result.maxCursor = db.lastInsertedRowID
            try applySideEffects(event, db: db)
        }
        return result
    }

    static func applySideEffects(_ event: CallEvent, db: Database) throws {
        let callID = event.callID.rawValue
        switch event.type {
        case CallEventType.received:
            let startedAt = event.data["startedAt"].flatMap(date(from:)) ?? event.time
            try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO live_calls (call_id, started_at, caller, called, last_seq)
                VALUES (?, ?, ?, ?, ?)
                """).execute(arguments: [
                    callID, startedAt.timeIntervalSince1970, event.data["caller"].flatMap(text(from:)),
                    event.data["called"].flatMap(text(from:)), event.sequence,
                ])
        case CallEventType.ended:
            let live = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT started_at, caller, called FROM live_calls WHERE call_id = ?"),
                arguments: [callID])
            try db.cachedStatement(sql: "DELETE FROM live_calls WHERE call_id = ?").execute(arguments: [callID])
            let liveStarted: Double? = live?["started_at"]
            let startedAt = event.data["startedAt"].flatMap(date(from:))?.timeIntervalSince1970
                ?? liveStarted ?? event.time.timeIntervalSince1970
            let endedAt = event.data["endedAt"].flatMap(date(from:))?.timeIntervalSince1970
                ?? event.time.timeIntervalSince1970
            let liveCaller: String? = live?["caller"]
            let liveCalled: String? = live?["called"]
            let caller = event.data["caller"].flatMap(text(from:)) ?? liveCaller
            let called = event.data["called"].flatMap(text(from:)) ?? liveCalled
            let durationMs: Int64
            if case .int(let d)? = event.data["durationMs"] {
                durationMs = d
            } else {
                durationMs = max(0, Int64(((endedAt - startedAt) * 1000).rounded()))
            }
            try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO cdrs (call_id, caller, called, started_at, ended_at, duration_ms, cause, record)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    callID, caller, called, startedAt, endedAt, durationMs,
                    event.data["cause"].flatMap(text(from:)), Data(CloudEventEncoder.encodeData(event)),
                ])
        case CallEventType.answered:
            try db.cachedStatement(sql: "UPDATE live_calls SET last_seq = MAX(last_seq, ?), answered_at = ? WHERE call_id = ?")
                .execute(arguments: [event.sequence, event.time.timeIntervalSince1970, callID])
        default:
            try db.cachedStatement(sql: "UPDATE live_calls SET last_seq = ? WHERE call_id = ? AND last_seq < ?")
                .execute(arguments: [event.sequence, callID, event.sequence])
        }
    }

    static func text(from value: JSONValue) -> String? {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        default: return nil
        }
    }

    static func date(from value: JSONValue) -> Date? {
        if case .string(let s) = value { return RFC3339.parse(s) }
        return nil
    }

    static func storedEvent(_ row: Row) -> StoredEvent {
        let blob: Data = row["cloud_event"]
        let delivered: Double? = row["delivered_at"]
        return StoredEvent(
            cursor: row["seq"], id: row["id"], type: row["type"], callID: row["call_id"],
            cloudEvent: [UInt8](blob), deliveredAt: delivered.map { Date(timeIntervalSince1970: $0) },
            deadReason: row["dead_reason"], committedAt: Date(timeIntervalSince1970: row["committed_at"]))
    }

    /// The highest cursor stored; when retention emptied the table, the highest ever assigned
    /// (cursors never go back). Cursors may have gaps: an ignored duplicate consumes one.
    static func latestCursor(_ db: Database) throws -> Int64 {
        if let max = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM events") { return max }
        return try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'events'") ?? 0
    }
}
