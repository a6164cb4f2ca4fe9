import Postgres
import Synchronization

/// The log's time partitions: each holds the records committed in one period (a day by
/// default), and is to the cluster what a segment is to the journal — retention drops whole
/// partitions, never deletes rows. A record's `RecordLocation.segment` is its partition's
/// number, so a read by reference goes to one partition.
///
/// The period is the cluster's, kept in `gateway_meta` by the first node that started:
/// nodes configured differently would otherwise make overlapping partitions.
final class ClusterPartitions: Sendable {
    /// Microseconds per partition.
    let period: Int64
    private let known = Mutex<Set<Int64>>([])

    /// Reads the cluster's period (setting it to `proposed` when none is set yet) and the
    /// partitions that exist.
    init(connection: PostgresConnection, proposed: Duration) throws(PostgresError) {
        let proposedMicroseconds = max(1_000_000, proposed.microseconds)
        try connection.execute(
            "INSERT INTO gateway_meta (key, value) VALUES ('partition_microseconds', $1) ON CONFLICT (key) DO NOTHING",
            [.text(String(proposedMicroseconds))])
        let rows = try connection.execute("SELECT value FROM gateway_meta WHERE key = 'partition_microseconds'")
        period = rows.string(0, 0).flatMap { Int64($0) } ?? proposedMicroseconds
        try refresh(connection)
    }

    /// The partition a commit time falls in.
    func number(at timestamp: Int64) -> Int64 { timestamp / period }

    /// The commit times a partition holds: `lower` inclusive, `upper` exclusive.
    func bounds(of number: Int64) -> (lower: Int64, upper: Int64) { (number * period, (number + 1) * period) }

    func exists(_ number: Int64) -> Bool { known.withLock { $0.contains(number) } }

    /// The partitions that exist, oldest first.
    var numbers: [Int64] { known.withLock { $0.sorted() } }

    /// Re-reads which partitions exist (another node may have made or dropped some).
    func refresh(_ connection: PostgresConnection) throws(PostgresError) {
        let rows = try connection.execute("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'gateway_log'::regclass
            """)
        var found: Set<Int64> = []
        for row in 0..<rows.count {
            if let name = rows.string(row, 0), name.hasPrefix("gateway_log_p"), let number = Int64(name.dropFirst(13)) {
                found.insert(number)
            }
        }
        known.withLock { $0 = found }
    }

    /// Makes the partition (outside any transaction: it locks the parent table briefly).
    /// Two nodes making the same one at once is harmless.
    func create(_ number: Int64, _ connection: PostgresConnection) throws(PostgresError) {
        let (lower, upper) = bounds(of: number)
        do {
            try connection.run(
                "CREATE TABLE IF NOT EXISTS gateway_log_p\(number) PARTITION OF gateway_log FOR VALUES FROM (\(lower)) TO (\(upper))")
        } catch where error.sqlState == "42P07" || error.isUniqueViolation {
            // Made by another node between our check and our create.
        }
        known.withLock { _ = $0.insert(number) }
    }

    /// Drops a partition retention no longer needs.
    func drop(_ number: Int64, _ connection: PostgresConnection) throws(PostgresError) {
        try connection.run("DROP TABLE IF EXISTS gateway_log_p\(number)")
        known.withLock { _ = $0.remove(number) }
    }
}
