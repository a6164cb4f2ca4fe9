import Logging
import Postgres
import Runtime
import Synchronization

/// The cluster's background upkeep, done by one node at a time (whichever holds the
/// maintenance advisory lock; another takes over when it dies): the journal's maintenance,
/// with partitions for segments.
///
/// - Partitions for this period and the next exist before a write needs them.
/// - A snapshot of the fold is written after enough records, so a starting node folds only
///   what came after it; the newest two are kept.
/// - Dead letters past their retention are discarded.
/// - Retention drops whole partitions, never deletes rows: a partition goes once its newest
///   record is older than the retention and the older kept snapshot covers it, after every
///   event still owed in it (pending or dead-lettered) was carried forward into the current
///   partition — the journal's rule, so nothing owed is dropped.
/// - Idempotency keys past their window are deleted from their table, a bounded batch a
///   round (they are a few dozen bytes each, not history).
final class ClusterMaintainer: Sendable {
    struct Configuration: Sendable {
        var retention = RetentionPolicy()
        var interval: Duration = .seconds(10)
        /// A snapshot once this many records came after the last one…
        var snapshotEvery: UInt64 = 50_000
        /// …or once this long passed with any.
        var snapshotAge: Duration = .seconds(600)
    }

    private let folder: ClusterFolder
    private let log: ClusterLog
    private let connector: ClusterConnector
    private let configuration: Configuration
    private let logger: Logger
    private let loop: BackgroundLoop
    private let session = Mutex<Session?>(nil)
    private let droppedPartitions = Atomic<Int>(0)

    private struct Session: @unchecked Sendable {
        var connection: PostgresConnection
        var holdsLock = false
        var lastSnapshot: (sequence: UInt64, at: Int64)?
    }

    init(folder: ClusterFolder, log: ClusterLog, connector: ClusterConnector, configuration: Configuration, logger: Logger) {
        self.folder = folder
        self.log = log
        self.connector = connector
        self.configuration = configuration
        self.logger = logger
        loop = BackgroundLoop(name: "cluster-upkeep", interval: configuration.interval.microseconds, lowPriority: true)
    }

    func start() throws(SystemError) {
        try loop.start { [self] in pass() }
    }

    func stop() {
        loop.stop()
        session.withLock { $0 = nil }
    }

    var partitionsDropped: Int { droppedPartitions.load(ordering: .relaxed) }

    /// The newest snapshot that decodes, with the sequence it covers.
    static func loadNewestSnapshot(_ connection: PostgresConnection, idempotencyWindow: Int64, logger: Logger)
        throws(PostgresError) -> (fold: GatewayFold, covered: UInt64)? {
        let rows = try connection.execute("SELECT sequence, fold FROM gateway_snapshots ORDER BY sequence DESC")
        for row in 0..<rows.count {
            let covered = UInt64(rows.int64(row, 0) ?? 0)
            do throws(FoldSnapshot.Damaged) {
                return (try FoldSnapshot.decode(rows.bytes(row, 1) ?? [], idempotencyWindow: idempotencyWindow), covered)
            } catch {
                logger.error("cluster snapshot damaged; trying an older one", metadata: ["covers": "\(covered)", "reason": "\(error)"])
            }
        }
        return nil
    }

    func pass() {
        do throws(PostgresError) {
            var current = try session.withLock { session throws(PostgresError) -> Session in
                if let session, session.connection.isHealthy { return session }
                let made = Session(connection: try connector.connect(role: "upkeep"))
                session = made
                return made
            }
            let connection = current.connection
            try ensurePartitions(connection)
            if !current.holdsLock {
                let taken = try connection.execute("SELECT pg_try_advisory_lock($1)", [.int64(ClusterSchema.maintenanceLock)])
                current.holdsLock = taken.bool(0, 0) == true
            }
            if current.holdsLock {
                try snapshotIfDue(&current)
                try expireDeadLetters()
                try applyRetention(current)
                try expireKeys(connection)
            }
            session.withLock { $0 = current }
        } catch {
            if error.connectionLost { session.withLock { $0 = nil } }
            logger.warning("cluster upkeep failed; retrying", metadata: ["error": "\(error)"])
        }
    }

    private func ensurePartitions(_ connection: PostgresConnection) throws(PostgresError) {
        let partitions = folder.partitions
        let now = partitions.number(at: wallClockMicroseconds())
        for number in [now, now + 1] where !partitions.exists(number) {
            try partitions.refresh(connection)
            if !partitions.exists(number) { try partitions.create(number, connection) }
        }
    }

    private func snapshotIfDue(_ session: inout Session) throws(PostgresError) {
        let connection = session.connection
        if session.lastSnapshot == nil {
            let rows = try connection.execute("SELECT max(sequence) FROM gateway_snapshots")
            session.lastSnapshot = (UInt64(rows.int64(0, 0) ?? 0), monotonicMicroseconds())
        }
        let last = session.lastSnapshot ?? (0, 0)
        let folded = folder.foldedThrough
        guard folded > last.sequence,
              folded - last.sequence >= configuration.snapshotEvery
                || monotonicMicroseconds() - last.at >= configuration.snapshotAge.microseconds else { return }
        try writeSnapshot(connection)
        session.lastSnapshot = (folded, monotonicMicroseconds())
    }

    /// Writes the fold as the newest snapshot and keeps the newest two.
    func writeSnapshot(_ connection: PostgresConnection) throws(PostgresError) {
        let fold = folder.state.currentFold()
        try connection.execute(
            "INSERT INTO gateway_snapshots (sequence, fold) VALUES ($1, $2) ON CONFLICT (sequence) DO NOTHING",
            [.int64(Int64(fold.appliedThrough)), .bytes(FoldSnapshot.encode(fold))])
        try connection.execute("""
            DELETE FROM gateway_snapshots WHERE sequence < (
                SELECT min(sequence) FROM (SELECT sequence FROM gateway_snapshots ORDER BY sequence DESC LIMIT $1) AS kept)
            """, [.int64(Int64(FoldSnapshot.kept))])
        logger.debug("cluster snapshot written", metadata: ["covers": "\(fold.appliedThrough)"])
    }

    private func expireDeadLetters() throws(PostgresError) {
        let cutoff = wallClockMicroseconds() - configuration.retention.deadLetterRetention.microseconds
        for (subscriptionID, sequences) in folder.state.deadLetters(before: cutoff) {
            let payload = DeadLettersChangedRecord(subscriptionID: subscriptionID, action: .discard, sequences: sequences).encode()
            try appendAndWait([ClusterEntry(entry: JournalEntry(kind: .deadLettersChanged, payload: payload))])
            logger.info("dead letters expired", metadata: ["subscription": "\(subscriptionID)", "count": "\(sequences.count)"])
        }
    }

    private func applyRetention(_ session: Session) throws(PostgresError) {
        let connection = session.connection
        let partitions = folder.partitions
        try partitions.refresh(connection)
        let snapshots = try connection.execute("SELECT sequence FROM gateway_snapshots ORDER BY sequence DESC LIMIT $1",
                                               [.int64(Int64(FoldSnapshot.kept))])
        // Both kept snapshots must cover a partition, so a start from either finds what it needs.
        guard snapshots.count >= FoldSnapshot.kept, let floor = snapshots.int64(snapshots.count - 1, 0) else { return }
        let horizon = wallClockMicroseconds() - configuration.retention.retention.microseconds
        let current = partitions.number(at: wallClockMicroseconds())
        for number in partitions.numbers where number < current {
            guard partitions.bounds(of: number).upper <= horizon else { break }
            let newest = try connection.execute("SELECT max(sequence) FROM gateway_log_p\(number)").int64(0, 0) ?? 0
            guard newest <= floor else { break }
            let carried = try carryForward(partition: number, connection)
            guard folder.state.owedEvents(in: UInt64(number)).isEmpty else { break }  // owed again meanwhile
            try partitions.drop(number, connection)
            droppedPartitions.add(1, ordering: .relaxed)
            logger.info("log partition dropped by retention", metadata: ["partition": "gateway_log_p\(number)", "carried-forward": "\(carried)"])
        }
    }

    /// Copies every event still owed out of a partition into the current one, whole, and
    /// waits until the copies are committed and folded (their places are then the owed ones).
    private func carryForward(partition: Int64, _ connection: PostgresConnection) throws(PostgresError) -> Int {
        let owed = folder.state.owedEvents(in: UInt64(partition)).sorted { $0.key < $1.key }
        var entries: [ClusterEntry] = []
        for (sequence, location) in owed {
            guard let original = try folder.readEvent(at: EventReference(sequence: sequence, location: location), connection) else {
                throw PostgresError(sqlState: nil, message: "an owed event (sequence \(sequence)) cannot be read to carry it forward", connectionLost: false)
            }
            let id = (try? EventRecord.decode(original.payload, includeData: false))?.id
            entries.append(ClusterEntry(entry: JournalEntry(kind: .eventCarried, payload: CarriedEventRecord(original).encode()), eventID: id))
            if entries.count == 512 {
                try appendAndWait(entries)
                entries.removeAll()
            }
        }
        if !entries.isEmpty { try appendAndWait(entries) }
        return owed.count
    }

    private func expireKeys(_ connection: PostgresConnection) throws(PostgresError) {
        let cutoff = wallClockMicroseconds() - folder.state.read(\.idempotencyWindow)
        try connection.execute("""
            DELETE FROM gateway_event_keys WHERE ctid = ANY(ARRAY(
                SELECT ctid FROM gateway_event_keys WHERE committed_at < $1 LIMIT 10000))
            """, [.int64(cutoff)])
    }

    private func appendAndWait(_ entries: [ClusterEntry]) throws(PostgresError) {
        let done = WorkQueue<ClusterLog.Result>()
        log.append(ClusterLog.Append(entries: entries, kind: .records) { _ = done.push($0) })
        guard case .items(let results) = done.takeAll(), case .written = results.first else {
            throw PostgresError(sqlState: nil, message: "a retention write failed", connectionLost: false)
        }
    }
}
