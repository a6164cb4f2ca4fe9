import Logging
import Postgres

/// The cluster's tables in PostgreSQL, as numbered migrations kept in this file: a node
/// applies the ones the database lacks at start, under an advisory lock so nodes starting
/// together do not race, and refuses to start on a database a newer binary migrated.
///
/// The shape mirrors the embedded journal: one ordered log of records (`gateway_log`) that
/// every node folds into the same state, time partitions in place of segments, and a head
/// row whose lock orders every append (see `ClusterLog`).
enum ClusterSchema {
    /// Key of the advisory lock migrations run under (any fixed number: "gwmigrat").
    static let migrationLock: Int64 = 0x67_77_6D_69_67_72_61_74
    /// Key of the advisory lock held by the one node that looks after retention and
    /// snapshots (`ClusterMaintainer`): "gwmaint".
    static let maintenanceLock: Int64 = 0x67_77_6D_61_69_6E_74
    /// Namespace of the advisory locks that tell a node is alive (`ShardLeases`).
    static let nodeLockNamespace: Int32 = 0x6777_6E64

    /// How many shards subscriptions are hashed to; fixed by the first migration, so every
    /// node and every version agrees on where a subscription lives.
    static let shardCount = 64

    static let migrations: [String] = [
        // 1: the log, its head, idempotency keys, nodes and shard leases.
        """
        CREATE TABLE gateway_meta (key text PRIMARY KEY, value text NOT NULL);
        CREATE TABLE gateway_head (
            id int PRIMARY KEY CHECK (id = 1),
            sequence bigint NOT NULL,
            committed_at bigint NOT NULL
        );
        INSERT INTO gateway_head VALUES (1, 0, 0);
        CREATE TABLE gateway_log (
            sequence bigint NOT NULL,
            committed_at bigint NOT NULL,
            kind smallint NOT NULL,
            payload bytea NOT NULL,
            event_id text,
            event_type text,
            subject bigint
        ) PARTITION BY RANGE (committed_at);
        CREATE INDEX gateway_log_sequence ON gateway_log (sequence);
        CREATE INDEX gateway_log_event_id ON gateway_log (event_id) WHERE event_id IS NOT NULL;
        CREATE INDEX gateway_log_event_type ON gateway_log (event_type, sequence) WHERE event_type IS NOT NULL;
        CREATE INDEX gateway_log_subject ON gateway_log (subject) WHERE subject IS NOT NULL;
        CREATE TABLE gateway_event_keys (
            source text NOT NULL,
            key text NOT NULL,
            sequence bigint NOT NULL,
            committed_at bigint NOT NULL,
            PRIMARY KEY (source, key)
        );
        CREATE INDEX gateway_event_keys_age ON gateway_event_keys (committed_at);
        CREATE TABLE gateway_nodes (
            node_id text PRIMARY KEY,
            lock_id int NOT NULL,
            started_at timestamptz NOT NULL DEFAULT now(),
            seen_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE gateway_shards (
            shard int PRIMARY KEY,
            owner text,
            owner_lock int,
            epoch bigint NOT NULL DEFAULT 0,
            expires_at timestamptz NOT NULL DEFAULT '-infinity'
        );
        INSERT INTO gateway_shards (shard) SELECT generate_series(0, 63);
        """,
        // 2: snapshots of the fold, so a node starts from one instead of the whole log, and
        // retention may drop the partitions they cover.
        """
        CREATE TABLE gateway_snapshots (
            sequence bigint PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT now(),
            fold bytea NOT NULL
        );
        """,
    ]

    static var latestVersion: Int { migrations.count }

    enum Failure: Error, CustomStringConvertible {
        case newerDatabase(found: Int, known: Int)
        case oldServer(version: Int)
        case database(PostgresError)

        var description: String {
            switch self {
            case .newerDatabase(let found, let known):
                "the database's schema is version \(found), newer than this gatewayd knows (\(known)): "
                    + "a newer gatewayd migrated it; run that version (or newer) on every node"
            case .oldServer(let version):
                "PostgreSQL \(version / 10000) is too old: cluster mode needs PostgreSQL 15 or newer"
            case .database(let error): "\(error)"
            }
        }
    }

    /// Brings the database to `latestVersion`, each migration in its own transaction,
    /// holding the migration lock for the whole run.
    static func migrate(_ connection: PostgresConnection, logger: Logger) throws(Failure) {
        guard connection.serverVersion >= 150000 else { throw .oldServer(version: connection.serverVersion) }
        var version: Int
        do throws(PostgresError) {
            try connection.execute("SELECT pg_advisory_lock($1)", [.int64(migrationLock)])
            version = try currentVersion(connection)
        } catch {
            throw .database(error)
        }
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1)", [.int64(migrationLock)]) }
        guard version <= latestVersion else { throw .newerDatabase(found: version, known: latestVersion) }
        while version < latestVersion {
            let next = version + 1
            do throws(PostgresError) {
                try connection.transaction { () throws(PostgresError) in
                    try connection.run(migrations[next - 1])
                    try connection.execute(
                        "INSERT INTO gateway_meta (key, value) VALUES ('schema_version', $1) "
                            + "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", [.text(String(next))])
                }
            } catch {
                throw .database(error)
            }
            logger.notice("database migrated", metadata: ["schema-version": "\(next)"])
            version = next
        }
    }

    private static func currentVersion(_ connection: PostgresConnection) throws(PostgresError) -> Int {
        let exists = try connection.execute("SELECT to_regclass('gateway_meta') IS NOT NULL")
        guard exists.bool(0, 0) == true else { return 0 }
        let rows = try connection.execute("SELECT value FROM gateway_meta WHERE key = 'schema_version'")
        return rows.isEmpty ? 0 : Int(rows.string(0, 0) ?? "") ?? 0
    }
}
