#if canImport(Glibc)
import Glibc
#endif
import Logging
import Postgres
import Runtime
import Synchronization

/// Splits the delivery work between the nodes: subscriptions are hashed to
/// `ClusterSchema.shardCount` shards, and each shard is leased to one node at a time, which
/// alone delivers its subscriptions — so `maxInFlight`, `rateLimit`, the circuit breaker and
/// per-key order hold cluster-wide, as on one machine.
///
/// - A node is alive while it holds its advisory lock (`pg_advisory_lock(namespace, id)`)
///   on its lease connection. A node killed (kill -9, a crash) loses the connection and
///   with it the lock at once; the others see that in `pg_locks` and take its shards at
///   their next round, without waiting for its leases to run out.
/// - A node that is alive but stuck (or cut off from the database with its session open)
///   keeps its shards until their lease expires: `leaseDuration` after its last renewal.
/// - Every takeover bumps the shard's epoch; records a node makes under a lease (attempt
///   outcomes, a disable) are written only if it still holds that epoch at commit
///   (`ClusterLog`), so a stale owner's writes match nothing. Shards change hands only under
///   the log's head lock, which every append holds, so that check needs no lock of its own.
/// - A node that cannot renew stops delivering once its lease could have expired, less the
///   time a transfer in flight may still take: `leaseDuration` must be longer than the
///   delivery timeout plus a renewal (checked at start), or a transfer could outlive the
///   lease it started under.
/// - Shards are spread evenly: a node takes free shards up to its share (the shard count
///   divided by the live nodes, rounded up), and gives back what is over its share when a
///   node joins. Deliveries in flight in a shard given back are sent again by the next
///   owner (at-least-once, same `webhook-id`).
final class ShardLeases: Sendable {
    struct Configuration: Sendable {
        var leaseDuration: Duration = .seconds(45)
        var renewInterval: Duration = .seconds(2)
        /// The longest a delivery may take (the engine's total timeout).
        var transferTimeout: Duration = .seconds(30)
    }

    struct Callbacks: Sendable {
        /// Shards taken: `take` makes them this node's; the callee runs it at the moment
        /// that suits it (with nothing folded in meanwhile, so that no fan-out falls between
        /// the ownership and the snapshot of what the shards are owed).
        var gained: @Sendable (_ leases: [ShardLease], _ take: () -> Void) -> Void
        /// Shards this node no longer delivers (already not its own when this is called).
        var lost: @Sendable ([Int]) -> Void
    }

    private struct Held {
        var leases: [Int: Int64] = [:]
        /// Monotonic microseconds until which the leases surely are this node's.
        var validUntil: Int64 = 0
    }

    let nodeID: String
    private let connector: ClusterConnector
    private let configuration: Configuration
    private let callbacks: Callbacks
    private let logger: Logger
    private let held = Mutex(Held())
    private let stopping = Atomic(false)
    private let thread = Mutex<pthread_t?>(nil)
    private let failure = Mutex<String?>(nil)

    /// Why the lease must outlive a transfer; nil when the configuration is sound.
    static func problem(with configuration: Configuration) -> String? {
        let needed = configuration.transferTimeout + configuration.renewInterval * 2
        guard configuration.leaseDuration > needed else {
            return "the shard lease (\(configuration.leaseDuration)) must be longer than the delivery timeout "
                + "(\(configuration.transferTimeout)) plus two renewals (\(configuration.renewInterval * 2)): "
                + "a delivery could otherwise still be in flight when another node takes its subscription over"
        }
        return nil
    }

    init(nodeID: String, connector: ClusterConnector, configuration: Configuration, callbacks: Callbacks, logger: Logger) throws(SystemError) {
        self.nodeID = nodeID
        self.connector = connector
        self.configuration = configuration
        self.callbacks = callbacks
        self.logger = logger
        let handle = try spawnThread(name: "cluster-leases") { [self] in run() }
        thread.withLock { $0 = handle }
    }

    /// The shard a subscription belongs to.
    static func shard(of subscriptionID: String) -> Int {
        Int(StableHash.of(subscriptionID.utf8) % UInt64(ClusterSchema.shardCount))
    }

    /// The lease this node holds on a shard, if it holds one it may still act on.
    func lease(of shard: Int) -> ShardLease? {
        held.withLock { held in
            guard monotonicMicroseconds() < held.validUntil, let epoch = held.leases[shard] else { return nil }
            return ShardLease(shard: shard, epoch: epoch)
        }
    }

    var heldShards: [Int] { held.withLock { $0.leases.keys.sorted() } }

    var unavailableReason: String? { failure.withLock { $0 } }

    /// Gives every shard back (a graceful stop: the others take them at once) and stops.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        if let handle = thread.withLock({ $0 }) { pthread_join(handle, nil) }
        thread.withLock { $0 = nil }
    }

    // MARK: - The lease thread

    private struct Session {
        var connection: PostgresConnection
        var lockID: Int32
    }

    private func run() {
        var session: Session?
        let interval = configuration.renewInterval.microseconds
        while !stopping.load(ordering: .relaxed) {
            let started = monotonicMicroseconds()
            do throws(PostgresError) {
                let open: Session
                if let session { open = session } else { open = try register() }
                session = open
                try round(open, startedAt: started)
                failure.withLock { $0 = nil }
            } catch {
                failure.withLock { $0 = "PostgreSQL is unreachable: \(error.message)" }
                if error.connectionLost {
                    // The session's lock went with the connection: another node may take
                    // the shards at once, so this one stops delivering them now.
                    session = nil
                    dropAll(reason: "lost the database connection")
                }
                logger.warning("shard lease round failed", metadata: ["error": "\(error)"])
            }
            expireIfStale()
            let elapsed = monotonicMicroseconds() - started
            var remaining = interval - elapsed
            while remaining > 0 && !stopping.load(ordering: .relaxed) {
                usleep(UInt32(min(remaining, 100_000)))
                remaining -= 100_000
            }
        }
        if let session { giveBack(session) }
        dropAll(reason: "stopping")
    }

    /// Joins the cluster: takes a fresh advisory lock (the node's proof of life) and
    /// records the node.
    private func register() throws(PostgresError) -> Session {
        let connection = try connector.connect(role: "leases")
        while true {
            let lockID = Int32.random(in: 1...Int32.max)
            let taken = try connection.execute("SELECT pg_try_advisory_lock($1, $2)",
                                               [.int32(ClusterSchema.nodeLockNamespace), .int32(lockID)])
            guard taken.bool(0, 0) == true else { continue }
            try connection.execute("""
                INSERT INTO gateway_nodes (node_id, lock_id) VALUES ($1, $2)
                ON CONFLICT (node_id) DO UPDATE SET lock_id = EXCLUDED.lock_id, started_at = now(), seen_at = now()
                """, [.text(nodeID), .int32(lockID)])
            logger.info("joined the cluster", metadata: ["node": "\(nodeID)"])
            return Session(connection: connection, lockID: lockID)
        }
    }

    /// Renews what this node holds, then takes or gives back shards toward its share.
    private func round(_ session: Session, startedAt: Int64) throws(PostgresError) {
        let connection = session.connection
        let leaseMicroseconds = configuration.leaseDuration.microseconds
        let renewed = try connection.execute("""
            UPDATE gateway_shards SET expires_at = now() + $3 * interval '1 microsecond'
            WHERE owner = $1 AND owner_lock = $2 AND expires_at > now() RETURNING shard, epoch
            """, [.text(nodeID), .int32(session.lockID), .int64(leaseMicroseconds)])
        try connection.execute("UPDATE gateway_nodes SET seen_at = now() WHERE node_id = $1", [.text(nodeID)])
        var current: [Int: Int64] = [:]
        for row in 0..<renewed.count { current[Int(renewed.int64(row, 0) ?? 0)] = renewed.int64(row, 1) ?? 0 }
        // Valid from when the renewal was sent, not when it returned.
        let validUntil = startedAt + leaseMicroseconds - configuration.transferTimeout.microseconds - configuration.renewInterval.microseconds
        let lost = held.withLock { held -> [Int] in
            let lost = held.leases.keys.filter { current[$0] == nil || current[$0] != held.leases[$0] }
            for shard in lost { held.leases[shard] = nil }
            held.validUntil = validUntil
            return lost.sorted()
        }
        if !lost.isEmpty {
            logger.notice("shards taken over by another node", metadata: ["shards": "\(lost)"])
            callbacks.lost(lost)
        }
        // Advisory locks are per database, but pg_locks shows the whole server's: another
        // cluster's nodes on the same server (another database) are not this one's.
        let live = try connection.execute("""
            SELECT count(*) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND classid = $1::int8::oid AND objsubid = 2
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, [.int32(ClusterSchema.nodeLockNamespace)])
        let nodes = max(1, Int(live.int64(0, 0) ?? 1))
        let share = (ClusterSchema.shardCount + nodes - 1) / nodes
        let holding = current.count
        if holding < share {
            try claim(share - holding, session, validUntil: validUntil)
        } else if holding > share {
            giveBack(Array(current.keys.sorted().suffix(holding - share)), session)
        }
    }

    /// Takes up to `count` shards that are free: never owned, given back, expired, or held by
    /// a node whose lock is gone (it died).
    private func claim(_ count: Int, _ session: Session, validUntil: Int64) throws(PostgresError) {
        // Under the log's head lock, as every change of hands: a writer checking its fences
        // holds it, so its check stays true until its COMMIT (`ClusterLog.heldLeases`).
        let rows = try session.connection.transaction { () throws(PostgresError) -> PostgresRows in
            try session.connection.run("SELECT 1 FROM gateway_head WHERE id = 1 FOR UPDATE")
            return try session.connection.execute("""
            UPDATE gateway_shards SET owner = $1, owner_lock = $2, epoch = epoch + 1,
                expires_at = now() + $3 * interval '1 microsecond'
            WHERE shard IN (
                SELECT s.shard FROM gateway_shards s
                WHERE s.owner IS NULL OR s.expires_at < now() OR NOT EXISTS (
                    SELECT 1 FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $4::int8::oid
                      AND l.objid = s.owner_lock::int8::oid AND l.objsubid = 2
                      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
                ORDER BY s.shard LIMIT $5 FOR UPDATE SKIP LOCKED)
            RETURNING shard, epoch
            """, [.text(nodeID), .int32(session.lockID), .int64(configuration.leaseDuration.microseconds),
                  .int32(ClusterSchema.nodeLockNamespace), .int64(Int64(count))])
        }
        guard !rows.isEmpty else { return }
        let gained = (0..<rows.count).map { ShardLease(shard: Int(rows.int64($0, 0) ?? 0), epoch: rows.int64($0, 1) ?? 0) }
        logger.info("took shards", metadata: ["shards": "\(gained.map(\.shard))"])
        callbacks.gained(gained) {
            held.withLock { held in
                for lease in gained { held.leases[lease.shard] = lease.epoch }
                held.validUntil = validUntil
            }
        }
    }

    /// Gives shards back: this node stops delivering them first, then frees them.
    private func giveBack(_ shards: [Int], _ session: Session) {
        guard !shards.isEmpty else { return }
        held.withLock { held in for shard in shards { held.leases[shard] = nil } }
        callbacks.lost(shards)
        _ = try? session.connection.transaction { () throws(PostgresError) in
            try session.connection.run("SELECT 1 FROM gateway_head WHERE id = 1 FOR UPDATE")
            try session.connection.execute(
                "UPDATE gateway_shards SET owner = NULL, owner_lock = NULL, expires_at = '-infinity' WHERE owner = $1 AND shard = ANY($2)",
                [.text(nodeID), .int64Array(shards.map { Int64($0) })])
        }
        logger.info("gave shards back", metadata: ["shards": "\(shards)"])
    }

    private func giveBack(_ session: Session) {
        giveBack(heldShards, session)
        _ = try? session.connection.execute("DELETE FROM gateway_nodes WHERE node_id = $1", [.text(nodeID)])
        session.connection.close()
    }

    /// Leases that could have expired (no renewal for too long) are no longer acted on.
    private func expireIfStale() {
        let stale = held.withLock { held -> [Int] in
            guard !held.leases.isEmpty, monotonicMicroseconds() >= held.validUntil else { return [] }
            defer { held.leases = [:] }
            return held.leases.keys.sorted()
        }
        if !stale.isEmpty {
            logger.warning("shard leases not renewed in time; delivering none until they are", metadata: ["shards": "\(stale)"])
            callbacks.lost(stale)
        }
    }

    private func dropAll(reason: String) {
        let all = held.withLock { held -> [Int] in
            defer { held.leases = [:] }
            return held.leases.keys.sorted()
        }
        if !all.isEmpty {
            logger.notice("stopped delivering every shard", metadata: ["reason": "\(reason)"])
            callbacks.lost(all)
        }
    }
}
