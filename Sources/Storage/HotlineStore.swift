import Foundation
import GRDB
import Logging

/// A failure to open, migrate or write the embedded store, with the file it concerns.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "store \(path): \(reason)" }
}

/// The node's embedded SQLite database (`<data-dir>/hotline.sqlite`, WAL mode).
///
/// Holds the event outbox (`events`), the calls in progress (`live_calls`) and the call detail
/// records (`cdrs`). The schema is created and upgraded by `HotlineStore.migrator` when the
/// store opens. All dates are stored as Unix seconds (REAL) so range queries use the indexes.
public final class HotlineStore: Sendable {
    /// How hard a commit is pushed to the disk.
    public enum Durability: String, Sendable {
        /// `synchronous = FULL`: every commit is fsynced; survives power loss.
        case full
        /// `synchronous = NORMAL`: survives a crash of the process, the last commits may roll
        /// back on power loss. Much cheaper on slow disks.
        case normal
    }

    /// The database file.
    public let path: String
    public let database: DatabasePool

    /// Opens (creating if needed) `<directory>/hotline.sqlite` with full durability.
    public convenience init(directory: String) throws(StoreError) {
        try self.init(directory: directory, durability: .full)
    }

    public init(directory: String, durability: Durability) throws(StoreError) {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("hotline.sqlite").path
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(path: directory, reason: "cannot create directory: \(error.localizedDescription)")
        }
        var configuration = Configuration()
        configuration.label = "hotline"
        configuration.busyMode = .timeout(5)
        configuration.maximumReaderCount = 4
        let synchronous = durability == .full ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError(path: path, reason: "cannot open: \(error)")
        }
        do {
            try Self.migrator.migrate(pool)
        } catch {
            throw StoreError(path: path, reason: "migration failed: \(error)")
        }
        self.database = pool
    }

    /// The schema, one migration per released change. Never edit a released migration.
    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-outbox") { db in
            // The outbox. `seq` is the delivery/pull cursor; AUTOINCREMENT so that a cursor is
            // never reused after retention deletes the newest rows.
            try db.execute(sql: """
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    type TEXT NOT NULL,
                    call_id TEXT NOT NULL,
                    call_seq INTEGER NOT NULL,
                    time REAL NOT NULL,
                    committed_at REAL NOT NULL,
                    cloud_event BLOB NOT NULL,
                    delivered_at REAL,
                    dead_reason TEXT
                );
                CREATE INDEX events_undelivered ON events(seq)
                    WHERE delivered_at IS NULL AND dead_reason IS NULL;
                CREATE INDEX events_dead ON events(seq) WHERE dead_reason IS NOT NULL;
                CREATE INDEX events_committed_at ON events(committed_at);
                CREATE INDEX events_call ON events(call_id, call_seq);

                CREATE TABLE live_calls (
                    call_id TEXT PRIMARY KEY NOT NULL,
                    started_at REAL NOT NULL,
                    caller TEXT,
                    called TEXT,
                    answered_at REAL,
                    last_seq INTEGER NOT NULL
                );

                CREATE TABLE cdrs (
                    call_id TEXT PRIMARY KEY NOT NULL,
                    caller TEXT,
                    called TEXT,
                    started_at REAL NOT NULL,
                    ended_at REAL NOT NULL,
                    duration_ms INTEGER,
                    cause TEXT,
                    record BLOB NOT NULL
                );
                CREATE INDEX cdrs_started_at ON cdrs(started_at);
                CREATE INDEX cdrs_caller ON cdrs(caller, started_at);
                CREATE INDEX cdrs_called ON cdrs(called, started_at);
                """)
        }
        migrator.registerMigration("v2-sip-accounts") { db in
            // SIP accounts managed at run time (`hotline accounts`), besides those of the
            // configuration file. Passwords are never stored: only the digest HA1 values.
            try db.execute(sql: """
                CREATE TABLE sip_accounts (
                    name TEXT PRIMARY KEY NOT NULL,
                    ha1_md5 TEXT,
                    ha1_sha256 TEXT,
                    networks TEXT NOT NULL DEFAULT '',
                    display_name TEXT,
                    updated_at REAL NOT NULL
                );
                """)
        }
        migrator.registerMigration("v3-agent-sessions") { db in
            // Agents logged in at seats (docs/queues.md): restored, not ready, after a restart.
            try db.execute(sql: """
                CREATE TABLE agent_sessions (
                    agent TEXT PRIMARY KEY NOT NULL,
                    seat TEXT NOT NULL,
                    ready INTEGER NOT NULL,
                    reason TEXT,
                    updated_at REAL NOT NULL
                );
                """)
        }
        return migrator
    }
}

/// An agent logged in at a seat, as kept in the store: ready, or not ready with a reason.
public struct StoredAgentSession: Sendable, Equatable {
    public var agent: String
    public var seat: String
    public var ready: Bool
    public var reason: String?
    public init(agent: String, seat: String, ready: Bool, reason: String?) {
        self.agent = agent
        self.seat = seat
        self.ready = ready
        self.reason = reason
    }
}

extension HotlineStore {
    public func saveAgentSession(_ session: StoredAgentSession) throws {
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO agent_sessions (agent, seat, ready, reason, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(agent) DO UPDATE SET seat = excluded.seat, ready = excluded.ready, reason = excluded.reason,
                        updated_at = excluded.updated_at
                    """,
                arguments: [session.agent, session.seat, session.ready, session.reason, Date().timeIntervalSince1970])
        }
    }

    public func deleteAgentSession(agent: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM agent_sessions WHERE agent = ?", arguments: [agent]) }
    }

    public func agentSessions() throws -> [StoredAgentSession] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT agent, seat, ready, reason FROM agent_sessions ORDER BY agent").map { row in
                StoredAgentSession(agent: row["agent"], seat: row["seat"], ready: row["ready"], reason: row["reason"])
            }
        }
    }
}

/// A SIP account kept in the store: the digest HA1 values for the realm it was created in
/// (`H(name:realm:password)`), and the networks it may be used from.
public struct StoredAccount: Sendable, Equatable {
    public var name: String
    public var ha1MD5: String?
    public var ha1SHA256: String?
    /// Addresses or CIDR blocks; empty: anywhere.
    public var networks: [String]
    public var displayName: String?

    public init(name: String, ha1MD5: String?, ha1SHA256: String?, networks: [String], displayName: String?) {
        self.name = name
        self.ha1MD5 = ha1MD5
        self.ha1SHA256 = ha1SHA256
        self.networks = networks
        self.displayName = displayName
    }
}

extension HotlineStore {
    public func saveAccount(_ account: StoredAccount) throws {
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO sip_accounts (name, ha1_md5, ha1_sha256, networks, display_name, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256,
                        networks = excluded.networks, display_name = excluded.display_name, updated_at = excluded.updated_at
                    """,
                arguments: [account.name, account.ha1MD5, account.ha1SHA256, account.networks.joined(separator: ","),
                            account.displayName, Date().timeIntervalSince1970])
        }
    }

    /// Returns false when there was no such account.
    @discardableResult
    public func deleteAccount(named name: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM sip_accounts WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    public func accounts() throws -> [StoredAccount] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT name, ha1_md5, ha1_sha256, networks, display_name FROM sip_accounts ORDER BY name").map { row in
                let networks: String = row["networks"]
                return StoredAccount(
                    name: row["name"], ha1MD5: row["ha1_md5"], ha1SHA256: row["ha1_sha256"],
                    networks: networks.split(separator: ",").map(String.init), displayName: row["display_name"])
            }
        }
    }
}
